/*
 * rlm_otpgate: the otpgate second factor for FreeRADIUS 3.2, in C (the 3.2
 * headers are not C++-clean). What to ask and answer is the core's decision
 * (otpgate.h: otpgate_begin/otpgate_finish, as in the PAM module); this file
 * carries State, attributes and Reply-Message and maps the core's answer to
 * an rcode with one table. Every pair of the module section is an option of
 * the core's table (otpgate.conf(5), read first; `config = PATH` names it):
 * unknown, out-of-range or PAM-only options stop radiusd at start-up.
 * Flows: round 1 after pap answers Access-Challenge with the core's State
 * and the prompt; round 2 carries State and the code, to this or any other
 * server sharing the store and master key (the core checks the State and
 * spends it once across the pool; FreeRADIUS's session-state is not used);
 * split = yes: password + code in one
 * User-Password; Otpgate-Action = Register/Stop with Otpgate-Credential-Id
 * and Otpgate-Code. One audit line per decision (the core's), as an auth
 * line whatever the server's `log { auth }` says.
 */
RCSID("$Id$")

#if defined(WITH_NDEBUG) && !defined(NDEBUG)
#  error "build with -DNDEBUG: the server was, and REQUEST's layout depends on it"
#endif

#include <freeradius/radiusd.h>
#include <freeradius/modules.h>

#include <string.h>

#include "otpgate/otpgate.h"

#if OTPGATE_ABI_VERSION != 3
#  error "rlm_otpgate is written for otpgate ABI 3"
#endif

typedef struct rlm_otpgate_t {
	char const		*name;		/* instance name: the Auth-Type it claims */
	otpgate_handle		*core;		/* opens the store when it can (fails closed until then) */
	DICT_ATTR const		*da[3];		/* by ATTR_*: from dictionary.otpgate */
} rlm_otpgate_t;

enum { ATTR_ACTION, ATTR_CREDENTIAL_ID, ATTR_CODE };

/* Every pair is read by mod_instantiate and handed to the core's table. */
static const CONF_PARSER module_config[] = { CONF_PARSER_TERMINATOR };

/* The request data key of a code split off User-Password. */
static int split_code_key;

/* The core's audit and debug lines (fixed at open; any thread). */
static void log_line(void *context, int level, char const *line)
{
	static const log_type_t type[] = { L_INFO, L_AUTH, L_AUTH, L_ERR };	/* by OTPGATE_LOG_* */
	radlog(level >= 0 && level <= OTPGATE_LOG_CRIT ? type[level] : L_AUTH, "rlm_otpgate (%s): %s%s",
	       ((rlm_otpgate_t const *) context)->name, level == OTPGATE_LOG_DEBUG ? "debug: " : "", line);
}

/* --- The one table: the core's answer to an rcode (and a Reply-Message). --- */
static rlm_rcode_t answer(REQUEST *request, otpgate_result const *result)
{
	if (result->user_message[0]) pair_make_reply("Reply-Message", result->user_message, T_OP_SET);
	RDEBUG2("otpgate: %s (%s)", otpgate_answer_name(result->answer), result->message);
	switch (result->answer) {
	case OTPGATE_ANSWER_PASS:	return RLM_MODULE_OK;	/* the password decided */
	case OTPGATE_ANSWER_ACCEPT:	return RLM_MODULE_OK;
	case OTPGATE_ANSWER_LOCKED:	return RLM_MODULE_USERLOCK;
	case OTPGATE_ANSWER_FAIL:	return RLM_MODULE_FAIL;	/* fail closed */
	default:			return RLM_MODULE_REJECT;
	}
}

/* The dictionary attributes the flows use; -1 when one is missing. */
static int find_attrs(rlm_otpgate_t *inst)
{
	static char const *names[] = { "Otpgate-Action", "Otpgate-Credential-Id", "Otpgate-Code" };	/* by ATTR_* */
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		inst->da[i] = dict_attrbyname(names[i]);
		if (!inst->da[i]) {
			ERROR("rlm_otpgate (%s): attribute %s is not in the dictionary: "
			      "$INCLUDE dictionary.otpgate in raddb/dictionary", inst->name, names[i]);
			return -1;
		}
	}
	return 0;
}

static otpgate_request request_of(REQUEST *request, otpgate_action action, char *client, size_t size)
{
	otpgate_request r = { request->username->vp_strvalue, action, NULL, client };
	if (!ip_ntoh(&request->packet->src_ipaddr, client, size)) client[0] = '\0';
	return r;
}

/* The section's pairs as the core's options (`config` names the file); -1 on a subsection. */
static int read_options(rlm_otpgate_t *inst, CONF_SECTION *conf, otpgate_open_args *args)
{
	CONF_ITEM *ci = NULL;
	size_t n = 0;
	char const **names, **values;

	while ((ci = cf_item_find_next(conf, ci))) n++;
	names = talloc_zero_array(inst, char const *, n + 1);
	values = talloc_zero_array(inst, char const *, n + 1);
	if (!names || !values) return -1;
	*args = (otpgate_open_args) { .front_end = OTPGATE_FRONT_END_RADIUS, .names = names,
				      .values = values, .log = log_line, .log_context = inst };
	for (ci = cf_item_find_next(conf, NULL); ci; ci = cf_item_find_next(conf, ci)) {
		CONF_PAIR *cp = cf_item_is_pair(ci) ? cf_item_to_pair(ci) : NULL;
		if (cf_item_is_section(ci)) {
			cf_log_err_cs(conf, "otpgate: a subsection is not an option");
			return -1;
		}
		if (!cp) continue;
		names[args->count] = cf_pair_attr(cp);
		values[args->count++] = cf_pair_value(cp);
	}
	return 0;
}

static int mod_instantiate(CONF_SECTION *conf, void *instance)
{
	rlm_otpgate_t *inst = instance;
	otpgate_open_args args;
	otpgate_result error;

	inst->name = cf_section_name2(conf);
	if (!inst->name) inst->name = cf_section_name1(conf);
	if (find_attrs(inst) < 0 || read_options(inst, conf, &args) < 0) return -1;
	inst->core = otpgate_open(&args, &error);
	if (!inst->core) {
		cf_log_err_cs(conf, "otpgate: %s", error.message);	/* refuse to start */
		return -1;
	}
	if (error.status != OTPGATE_OK) {
		WARN("rlm_otpgate (%s): store not available yet, requests will fail until it is: %s (%s)",
		     inst->name, error.message, otpgate_status_name(error.status));
	}
	return 0;
}

static int mod_detach(void *instance)
{
	rlm_otpgate_t *inst = instance;
	otpgate_close(inst->core);
	inst->core = NULL;
	return 0;
}

static char const *string_of(VALUE_PAIR *vp) { return vp ? vp->vp_strvalue : NULL; }

static otpgate_action action_of(rlm_otpgate_t *inst, REQUEST *request)
{
	VALUE_PAIR *vp = fr_pair_find_by_da(request->packet->vps, inst->da[ATTR_ACTION], TAG_ANY);
	return vp ? (otpgate_action) ((int) vp->vp_integer - 1) : OTPGATE_ACTION_CONFIGURED;
}

/*
 *	authorize: round 2 (our State) is ours; split = yes takes the code off
 *	User-Password so the password module sees the password alone.
 */
static rlm_rcode_t CC_HINT(nonnull) mod_authorize(void *instance, REQUEST *request)
{
	rlm_otpgate_t *inst = instance;
	VALUE_PAIR *state = fr_pair_find_by_num(request->packet->vps, PW_STATE, 0, TAG_ANY);
	VALUE_PAIR *password = fr_pair_find_by_num(request->packet->vps, PW_USER_PASSWORD, 0, TAG_ANY);
	char client[INET6_ADDRSTRLEN];
	otpgate_result result;
	otpgate_request r;
	size_t offset;
	char *code;

	if (!request->username) return RLM_MODULE_NOOP;
	if (state) {	/* checked by the core in authenticate, at whichever server this is */
		if (fr_pair_find_by_num(request->packet->vps, PW_EAP_MESSAGE, 0, TAG_ANY)) return RLM_MODULE_NOOP;
		if (!pair_make_config("Auth-Type", inst->name, T_OP_SET)) return RLM_MODULE_FAIL;
		RDEBUG2("Second round of a challenge: Auth-Type := %s", inst->name);
		return RLM_MODULE_OK;
	}
	if (!password || action_of(inst, request) > OTPGATE_ACTION_LOGIN) return RLM_MODULE_NOOP;

	if (!otpgate_options_of(inst->core)->split) return RLM_MODULE_NOOP;
	r = request_of(request, OTPGATE_ACTION_LOGIN, client, sizeof(client));
	if (otpgate_split_point(inst->core, r.user, password->vp_strvalue, password->vp_length, &offset,
				&result) != OTPGATE_OK) {
		return answer(request, &result);
	}
	if (offset == password->vp_length) return RLM_MODULE_NOOP;
	code = talloc_strdup(request, password->vp_strvalue + offset);
	if (!code || request_data_add(request, &split_code_key, 0, code, true) < 0) return RLM_MODULE_FAIL;
	fr_pair_value_bstrncpy(password, password->vp_strvalue, offset);	/* copies, then frees the old */
	RDEBUG2("Split the one-time password off User-Password");
	return RLM_MODULE_UPDATED;
}

/*
 *	Round 1: the core's State, which any server of the pool can redeem.
 *	FreeRADIUS sends it as it is: fr_state_put_vps (src/main/state.c) adds a
 *	State only when the reply has none, and files any session-state other
 *	modules keep under ours; at another server an unknown State only means
 *	"no cached attributes" (tests/integration/radius/pool_test.sh).
 */
static rlm_rcode_t challenge(REQUEST *request, otpgate_handle *core, otpgate_request *r,
			     otpgate_result *result)
{
	uint8_t state[OTPGATE_CHALLENGE_STATE_SIZE];
	size_t length;
	VALUE_PAIR *vp;

	if (otpgate_challenge(core, r, state, sizeof(state), &length, result) != OTPGATE_OK) {
		return answer(request, result);
	}
	vp = fr_pair_afrom_num(request->reply, PW_STATE, 0);
	if (!vp) return RLM_MODULE_FAIL;
	fr_pair_value_memcpy(vp, state, length);
	fr_pair_add(&request->reply->vps, vp);

	pair_make_reply("Reply-Message", otpgate_options_of(core)->prompt, T_OP_SET);
	request->reply->code = PW_CODE_ACCESS_CHALLENGE;
	RDEBUG2("Password accepted; challenging for the one-time password");
	return RLM_MODULE_HANDLED;
}

/* The code the core asked for: an attribute, or a challenge. (A login's
 * split-off code was decided on in otpgate_begin_with_code.) */
static rlm_rcode_t ask(rlm_otpgate_t *inst, REQUEST *request, otpgate_handle *core,
		       otpgate_request *r, otpgate_result *result)
{
	VALUE_PAIR *id = fr_pair_find_by_da(request->packet->vps, inst->da[ATTR_CREDENTIAL_ID], TAG_ANY);
	VALUE_PAIR *code = fr_pair_find_by_da(request->packet->vps, inst->da[ATTR_CODE], TAG_ANY);

	r->action = result->action;
	if (r->action == OTPGATE_ACTION_LOGIN && !otpgate_options_of(core)->split) {
		return challenge(request, core, r, result);
	}
	otpgate_finish(core, r, r->action == OTPGATE_ACTION_REGISTER ? string_of(id) : NULL,
		       r->action == OTPGATE_ACTION_LOGIN ? NULL : string_of(code), result);
	return answer(request, result);
}

static rlm_rcode_t CC_HINT(nonnull) mod_authenticate(void *instance, REQUEST *request)
{
	rlm_otpgate_t *inst = instance;
	VALUE_PAIR *password = fr_pair_find_by_num(request->packet->vps, PW_USER_PASSWORD, 0, TAG_ANY);
	VALUE_PAIR *state = fr_pair_find_by_num(request->packet->vps, PW_STATE, 0, TAG_ANY);
	char client[INET6_ADDRSTRLEN];
	otpgate_result result;
	otpgate_request r;
	otpgate_handle *core = inst->core;
	char *split;

	if (!request->username) {
		REDEBUG("Request has no User-Name");
		return RLM_MODULE_INVALID;
	}
	r = request_of(request, action_of(inst, request), client, sizeof(client));

	/* Round 2: the code answers a challenge of any server of the pool. */
	if (state) {
		r.action = OTPGATE_ACTION_LOGIN;
		otpgate_finish_challenge(core, &r, state->vp_octets, state->vp_length, string_of(password),
					 &result);
		return answer(request, &result);
	}
	split = request_data_get(request, &split_code_key, 0);	/* removes it */
	if (split) {
		otpgate_begin_with_code(core, &r, split, &result);
		memset(split, 0, strlen(split));	/* talloc'd under the request, freed with it */
	} else {
		otpgate_begin(core, &r, &result);
	}
	if (result.answer == OTPGATE_ANSWER_ASK_CODE || result.answer == OTPGATE_ANSWER_ASK_TOKEN_AND_CODE) {
		return ask(inst, request, core, &r, &result);
	}
	return answer(request, &result);
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
