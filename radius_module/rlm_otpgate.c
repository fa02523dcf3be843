/*
 * rlm_otpgate: the otpgate second factor for FreeRADIUS 3.2.
 *
 * Thin glue in C (the 3.2 headers are not C++-clean): it owns the module_t,
 * the CONF_PARSER table and every FreeRADIUS call, and asks the otpgate core
 * (through its C ABI, otpgate.h) for each decision.
 *
 * Flows (see config/freeradius/sites-available/otpgate):
 *  - round 1: the site's password module (pap) checks User-Password, then
 *    "otpgate" in the same Auth-Type section answers Access-Challenge with a
 *    State and Reply-Message for enrolled users (Accept for unenrolled ones
 *    when unenrolled = allow);
 *  - round 2: the request carries State; authorize finds our mark in
 *    session-state and sets Auth-Type := otpgate; the code in User-Password is
 *    verified: Accept or Reject;
 *  - split = yes: User-Password = password + code in one request;
 *  - Otpgate-Action = Register / Stop with Otpgate-Credential-Id and
 *    Otpgate-Code: the bank's registration and stop screens.
 */
RCSID("$Id$")

#if defined(WITH_NDEBUG) && !defined(NDEBUG)
#  error "build with -DNDEBUG: the server was, and REQUEST's layout depends on it"
#endif

#include <freeradius/radiusd.h>
#include <freeradius/modules.h>

#include <pthread.h>
#include <string.h>

#include "otpgate/otpgate.h"

typedef struct rlm_otpgate_t {
	char const		*name;		/* instance name: the Auth-Type it claims */
	char const		*config_file;
	/* Core options, passed through by name (same table as the PAM module and
	 * otpgate.conf); NULL means "not set here". */
	char const		*store;
	char const		*master_key;
	char const		*window;
	char const		*hotp_lookahead;
	char const		*max_failures;
	char const		*lockout_seconds;
	char const		*lockout_max_seconds;
	char const		*unenrolled;
	char const		*split;
	char const		*prompt;

	otpgate_handle		*core;		/* NULL until the store could be opened */
	pthread_mutex_t		open_lock;
	char const		*names[16];	/* the options, kept to retry opening */
	char const		*values[16];
	size_t			count;
	int			split_enabled;
	int			unenrolled_allow;
	DICT_ATTR const		*da_action;
	DICT_ATTR const		*da_credential_id;
	DICT_ATTR const		*da_code;
	DICT_ATTR const		*da_challenge_user;
} rlm_otpgate_t;

static const CONF_PARSER module_config[] = {
	{ "config", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_otpgate_t, config_file), NULL },
	{ "store", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_otpgate_t, store), NULL },
	{ "master_key", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_otpgate_t, master_key), NULL },
	{ "window", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_otpgate_t, window), NULL },
	{ "hotp_lookahead", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_otpgate_t, hotp_lookahead), NULL },
	{ "max_failures", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_otpgate_t, max_failures), NULL },
	{ "lockout_seconds", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_otpgate_t, lockout_seconds), NULL },
	{ "lockout_max_seconds", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_otpgate_t, lockout_max_seconds), NULL },
	{ "unenrolled", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_otpgate_t, unenrolled), NULL },
	{ "split", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_otpgate_t, split), NULL },
	{ "prompt", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_otpgate_t, prompt), "Enter one-time password" },
	CONF_PARSER_TERMINATOR
};

enum { ACTION_LOGIN = 1, ACTION_REGISTER = 2, ACTION_STOP = 3 };

/* The request data key of a code split off User-Password. */
static int split_code_key;

static DICT_ATTR const *required_attr(rlm_otpgate_t *inst, char const *name)
{
	DICT_ATTR const *da = dict_attrbyname(name);
	if (!da) {
		ERROR("rlm_otpgate (%s): attribute %s is not in the dictionary: "
		      "$INCLUDE dictionary.otpgate in raddb/dictionary", inst->name, name);
	}
	return da;
}

/*
 *	Opens the store, or retries: a store that is missing or unreadable at
 *	start-up (not yet mounted, not yet initialised) must not keep radiusd
 *	down; requests fail (fail closed) until it can be opened.
 */
static otpgate_handle *core_of(rlm_otpgate_t *inst, otpgate_result *error)
{
	otpgate_handle *core = __atomic_load_n(&inst->core, __ATOMIC_ACQUIRE);
	if (core) return core;
	pthread_mutex_lock(&inst->open_lock);
	core = inst->core;
	if (!core) {
		core = otpgate_open(inst->config_file, inst->names, inst->values, inst->count, error);
		if (core) __atomic_store_n(&inst->core, core, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&inst->open_lock);
	return core;
}

static int mod_instantiate(CONF_SECTION *conf, void *instance)
{
	rlm_otpgate_t *inst = instance;
	otpgate_result error;

	inst->name = cf_section_name2(conf);
	if (!inst->name) inst->name = cf_section_name1(conf);
	pthread_mutex_init(&inst->open_lock, NULL);

	inst->da_action = required_attr(inst, "Otpgate-Action");
	inst->da_credential_id = required_attr(inst, "Otpgate-Credential-Id");
	inst->da_code = required_attr(inst, "Otpgate-Code");
	inst->da_challenge_user = required_attr(inst, "Otpgate-Challenge-User");
	if (!inst->da_action || !inst->da_credential_id || !inst->da_code || !inst->da_challenge_user) {
		return -1;
	}

#define PASS(field) do { if (inst->field) { inst->names[inst->count] = #field; inst->values[inst->count] = inst->field; inst->count++; } } while (0)
	PASS(store);
	PASS(master_key);
	PASS(window);
	PASS(hotp_lookahead);
	PASS(max_failures);
	PASS(lockout_seconds);
	PASS(lockout_max_seconds);
	PASS(unenrolled);
	PASS(split);
	PASS(prompt);
#undef PASS

	if (!core_of(inst, &error)) {
		if (error.status == OTPGATE_ERR_INVALID_ARGUMENT) {
			/* A configuration mistake: refuse to start. */
			cf_log_err_cs(conf, "otpgate: %s", error.message);
			return -1;
		}
		WARN("rlm_otpgate (%s): store not available yet, requests will fail until it is: %s (%s)",
		     inst->name, error.message, otpgate_status_name(error.status));
	}
	inst->split_enabled = inst->split && (strcmp(inst->split, "yes") == 0 || strcmp(inst->split, "true") == 0);
	inst->unenrolled_allow = !inst->unenrolled || strcmp(inst->unenrolled, "allow") == 0;
	if (inst->unenrolled && strcmp(inst->unenrolled, "register") == 0) {
		cf_log_err_cs(conf, "otpgate: unenrolled = register is for PAM; RADIUS gateways send Otpgate-Action = Register");
		return -1;
	}
	return 0;
}

static int mod_detach(void *instance)
{
	rlm_otpgate_t *inst = instance;
	otpgate_close(inst->core);
	inst->core = NULL;
	pthread_mutex_destroy(&inst->open_lock);
	return 0;
}

static char const *string_of(VALUE_PAIR *vp)
{
	return vp ? vp->vp_strvalue : NULL;
}

static int action_of(rlm_otpgate_t *inst, REQUEST *request)
{
	VALUE_PAIR *vp = fr_pair_find_by_da(request->packet->vps, inst->da_action, TAG_ANY);
	return vp ? (int) vp->vp_integer : ACTION_LOGIN;
}

/*
 *	authorize: round 2 (our State) is ours; split = yes takes the code off
 *	User-Password so the password module sees the password alone.
 */
static rlm_rcode_t CC_HINT(nonnull) mod_authorize(void *instance, REQUEST *request)
{
	rlm_otpgate_t *inst = instance;
	VALUE_PAIR *user = request->username;
	VALUE_PAIR *state = fr_pair_find_by_num(request->packet->vps, PW_STATE, 0, TAG_ANY);
	VALUE_PAIR *password = fr_pair_find_by_num(request->packet->vps, PW_USER_PASSWORD, 0, TAG_ANY);

	if (!user) return RLM_MODULE_NOOP;

	if (state) {
		VALUE_PAIR *mark = fr_pair_find_by_da(request->state, inst->da_challenge_user, TAG_ANY);
		if (!mark) {
			if (fr_pair_find_by_num(request->packet->vps, PW_EAP_MESSAGE, 0, TAG_ANY)) return RLM_MODULE_NOOP;
			REDEBUG("State is unknown, used or expired");
			return RLM_MODULE_REJECT;
		}
		if (strcmp(mark->vp_strvalue, user->vp_strvalue) != 0) {
			REDEBUG("State was issued to another User-Name");
			return RLM_MODULE_REJECT;
		}
		if (!pair_make_config("Auth-Type", inst->name, T_OP_SET)) return RLM_MODULE_FAIL;
		RDEBUG2("Second round of a challenge: Auth-Type := %s", inst->name);
		return RLM_MODULE_OK;
	}

	if (inst->split_enabled && password && action_of(inst, request) == ACTION_LOGIN) {
		otpgate_user_state us;
		otpgate_result result;
		size_t length = password->vp_length;
		size_t i;
		char *code;

		otpgate_handle *core = core_of(inst, &result);
		if (!core || otpgate_get_user_state(core, user->vp_strvalue, &us, &result) != OTPGATE_OK) {
			REDEBUG("store failure (%s): %s", otpgate_status_name(result.status), result.message);
			return RLM_MODULE_FAIL;
		}
		if (!us.enrolled || us.digits <= 0 || length <= (size_t) us.digits) return RLM_MODULE_NOOP;
		for (i = length - us.digits; i < length; i++) {
			if (password->vp_strvalue[i] < '0' || password->vp_strvalue[i] > '9') return RLM_MODULE_NOOP;
		}
		code = talloc_strdup(request, password->vp_strvalue + length - us.digits);
		if (!code || request_data_add(request, &split_code_key, 0, code, true) < 0) return RLM_MODULE_FAIL;
		{
			char *head = talloc_strndup(request, password->vp_strvalue, length - us.digits);
			if (!head) return RLM_MODULE_FAIL;
			fr_pair_value_strcpy(password, head);
			talloc_free(head);
		}
		RDEBUG2("Split the one-time password off User-Password");
		return RLM_MODULE_UPDATED;
	}
	return RLM_MODULE_NOOP;
}

/*
 *	The audit trail, never with the code: registrations, stops and every
 *	refusal get an auth line of their own; an accepted login is recorded by
 *	the server's own "Login OK" line (log { auth = yes }), with the token at
 *	debug level, because a second line per login costs as much as the rest of
 *	the module at thousands of logins per second.
 */
static void audit(REQUEST *request, char const *action, otpgate_result const *result)
{
	char const *user = request->username ? request->username->vp_strvalue : "";

	if (result->status != OTPGATE_OK) {
		RAUTH("action=%s user=%s outcome=%s reason=%s", action, user,
		      otpgate_status_name(result->status), result->message);
	} else if (result->decision == OTPGATE_ACCEPT && strcmp(action, "login") == 0) {
		RDEBUG2("action=%s user=%s token=%s outcome=accept", action, user, result->credential_id);
	} else {
		RAUTH("action=%s user=%s token=%s outcome=%s", action, user, result->credential_id,
		      otpgate_decision_name(result->decision));
	}
}

/* The one table: the core's answer to a module return code. */
static rlm_rcode_t rcode_of(REQUEST *request, otpgate_result const *result, char const *success_message)
{
	if (result->status != OTPGATE_OK) {
		switch (result->status) {
		case OTPGATE_ERR_UNAVAILABLE:
		case OTPGATE_ERR_PERMISSION_DENIED:
		case OTPGATE_ERR_CORRUPT:
		case OTPGATE_ERR_WRONG_KEY:
		case OTPGATE_ERR_STORE_FULL:
		case OTPGATE_ERR_INTERNAL:
			REDEBUG("store failure (%s): %s", otpgate_status_name(result->status), result->message);
			return RLM_MODULE_FAIL;	/* fail closed */
		default:
			REDEBUG("%s (%s)", result->message, otpgate_status_name(result->status));
			pair_make_reply("Reply-Message", "Authentication failed", T_OP_SET);
			return RLM_MODULE_REJECT;
		}
	}
	switch (result->decision) {
	case OTPGATE_ACCEPT:
		if (success_message) pair_make_reply("Reply-Message", success_message, T_OP_SET);
		return RLM_MODULE_OK;
	case OTPGATE_LOCKED:
		REDEBUG("token %s is locked", result->credential_id);
		pair_make_reply("Reply-Message", "Authentication failed", T_OP_SET);
		return RLM_MODULE_USERLOCK;
	case OTPGATE_REPLAY:
		REDEBUG("replayed one-time password");
		break;
	case OTPGATE_NO_TOKEN:
		REDEBUG("user has no token");
		break;
	default:
		REDEBUG("wrong one-time password");
		break;
	}
	pair_make_reply("Reply-Message", "Authentication failed", T_OP_SET);
	return RLM_MODULE_REJECT;
}

static rlm_rcode_t challenge(rlm_otpgate_t *inst, REQUEST *request)
{
	uint8_t buffer[16];
	VALUE_PAIR *vp;
	size_t i;

	for (i = 0; i < sizeof(buffer); i += 4) {
		uint32_t r = fr_rand();
		memcpy(buffer + i, &r, 4);
	}
	vp = fr_pair_afrom_num(request->reply, PW_STATE, 0);
	if (!vp) return RLM_MODULE_FAIL;
	fr_pair_value_memcpy(vp, buffer, sizeof(buffer));
	fr_pair_add(&request->reply->vps, vp);

	vp = fr_pair_afrom_da(request->state_ctx, inst->da_challenge_user);
	if (!vp) return RLM_MODULE_FAIL;
	fr_pair_value_strcpy(vp, request->username->vp_strvalue);
	fr_pair_add(&request->state, vp);

	pair_make_reply("Reply-Message", inst->prompt, T_OP_SET);
	request->reply->code = PW_CODE_ACCESS_CHALLENGE;
	RDEBUG2("Password accepted; challenging for the one-time password");
	return RLM_MODULE_HANDLED;
}

static rlm_rcode_t CC_HINT(nonnull) mod_authenticate(void *instance, REQUEST *request)
{
	rlm_otpgate_t *inst = instance;
	otpgate_result result;
	char const *user;
	VALUE_PAIR *password = fr_pair_find_by_num(request->packet->vps, PW_USER_PASSWORD, 0, TAG_ANY);
	int action;
	otpgate_handle *core;

	if (!request->username) {
		REDEBUG("Request has no User-Name");
		return RLM_MODULE_INVALID;
	}
	user = request->username->vp_strvalue;
	core = core_of(inst, &result);
	if (!core) {
		audit(request, "login", &result);
		return rcode_of(request, &result, NULL);
	}

	/* Round 2: the code answers our challenge. */
	if (fr_pair_find_by_da(request->state, inst->da_challenge_user, TAG_ANY)) {
		if (!password) {
			REDEBUG("Challenge answer has no User-Password");
			return RLM_MODULE_INVALID;
		}
		otpgate_verify(core, user, password->vp_strvalue, &result);
		audit(request, "login", &result);
		return rcode_of(request, &result, NULL);
	}

	action = action_of(inst, request);
	if (action == ACTION_REGISTER) {
		VALUE_PAIR *id = fr_pair_find_by_da(request->packet->vps, inst->da_credential_id, TAG_ANY);
		VALUE_PAIR *code = fr_pair_find_by_da(request->packet->vps, inst->da_code, TAG_ANY);
		if (!id || !code) {
			REDEBUG("Register needs Otpgate-Credential-Id and Otpgate-Code");
			return RLM_MODULE_INVALID;
		}
		otpgate_register(core, user, string_of(id), string_of(code), &result);
		audit(request, "register", &result);
		return rcode_of(request, &result, "One-time password registration is complete");
	}
	if (action == ACTION_STOP) {
		VALUE_PAIR *code = fr_pair_find_by_da(request->packet->vps, inst->da_code, TAG_ANY);
		if (!code) {
			REDEBUG("Stop needs Otpgate-Code");
			return RLM_MODULE_INVALID;
		}
		otpgate_stop(core, user, string_of(code), &result);
		audit(request, "stop", &result);
		return rcode_of(request, &result, "One-time password use is stopped");
	}

	/* Single step: the code split off User-Password in authorize. */
	{
		char *code = request_data_get(request, &split_code_key, 0);	/* removes it */
		if (code) {
			otpgate_verify(core, user, code, &result);
			memset(code, 0, strlen(code));	/* talloc'd under the request, freed with it */
			audit(request, "login", &result);
			return rcode_of(request, &result, NULL);
		}
	}

	/* Round 1, after the password module accepted the password. */
	{
		otpgate_user_state us;
		if (otpgate_get_user_state(core, user, &us, &result) != OTPGATE_OK) {
			audit(request, "login", &result);
			return rcode_of(request, &result, NULL);
		}
		if (!us.enrolled) {
			if (inst->unenrolled_allow) {
				RDEBUG2("User has no token; unenrolled = allow");
				return RLM_MODULE_OK;
			}
			RAUTH("action=login user=%s outcome=no-token reason=unenrolled=deny", user);
			REDEBUG("user has no token (unenrolled = deny)");
			pair_make_reply("Reply-Message", "Authentication failed", T_OP_SET);
			return RLM_MODULE_REJECT;
		}
		if (us.locked) {
			RAUTH("action=login user=%s outcome=locked", user);
			REDEBUG("token is locked");
			pair_make_reply("Reply-Message", "Authentication failed", T_OP_SET);
			return RLM_MODULE_USERLOCK;
		}
		if (inst->split_enabled) {
			REDEBUG("split = yes but User-Password carries no code");
			pair_make_reply("Reply-Message", "Authentication failed", T_OP_SET);
			return RLM_MODULE_REJECT;
		}
		return challenge(inst, request);
	}
}

/* The only exported symbol: radiusd dlsyms it by name. */
extern module_t rlm_otpgate __attribute__((visibility("default")));
module_t rlm_otpgate = {
	.magic		= RLM_MODULE_INIT,
	.name		= "otpgate",
	.type		= RLM_TYPE_THREAD_SAFE | RLM_TYPE_HUP_SAFE,
	.inst_size	= sizeof(rlm_otpgate_t),
	.config		= module_config,
	.instantiate	= mod_instantiate,
	.detach		= mod_detach,
	.methods = {
		[MOD_AUTHENTICATE]	= mod_authenticate,
		[MOD_AUTHORIZE]		= mod_authorize,
	},
};
