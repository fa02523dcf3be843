#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the throwaway root of install_test.sh (loopback-only network).
set -u
passed=0 failed=0
ok() { if "$@" >/tmp/ok.out 2>&1; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $*"; sed 's/^/    /' /tmp/ok.out | tail -15; fi; }
no() { if "$@" >/tmp/ok.out 2>&1; then failed=$((failed + 1)); echo "FAIL (succeeded): $*"; sed 's/^/    /' /tmp/ok.out | tail -15; else passed=$((passed + 1)); fi; }
mode() { stat -c '%a %U:%G' "$1"; }
RADDB=/etc/freeradius/3.0
SECRET=3132333435363738393031323334353637383930  # RFC 4226 test key
hotp() { oathtool --hotp -c "$1" "$SECRET"; }

# sshd (service start off: nothing may listen from the overlay).
# policy-rc.d forbids every start, and notes what was asked (invoke-rc.d
# passes it the script and the action).
printf '#!/bin/sh\necho "$*" >> /tmp/policy-rc.log\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
ok dpkg -i /debs/ssh/*.deb
mkdir -p /run/sshd
# What the host looked like before otpgate.
sums() { sha256sum /etc/pam.d/sshd /etc/pam.d/su $RADDB/dictionary /etc/ssh/sshd_config; ls $RADDB/mods-enabled $RADDB/sites-enabled /etc/ssh/sshd_config.d; }
sums > /tmp/before
for u in alice carol; do useradd -m "$u"; echo "$u:${u}pw" | chpasswd; done
printf 'alice Cleartext-Password := "alicepw"\n' | cat - $RADDB/mods-config/files/authorize > /tmp/a && cp /tmp/a $RADDB/mods-config/files/authorize

# Install: the group model, and messages that say what was made.
ok test ! -e /etc/otpgate/master.key
ok bash -c 'dpkg -i /debs/otpgate_*.deb /debs/libpam-otpgate_*.deb /debs/freeradius-otpgate_*.deb 2>&1 | tee /tmp/install.log'
ok grep -q "created the system group otpgate" /tmp/install.log
ok grep -q "created the master key /etc/otpgate/master.key (root:otpgate 0640)" /tmp/install.log
ok grep -q "added freerad to the group otpgate" /tmp/install.log
ok otpgate selftest
ok test "$(mode /etc/otpgate)" = "750 root:otpgate"
ok test "$(mode /etc/otpgate/master.key)" = "640 root:otpgate"
ok test "$(mode /var/lib/otpgate)" = "2770 root:otpgate"
ok test "$(mode /var/lib/otpgate/data.mdb)" = "660 root:otpgate"
ok test "$(mode /var/lib/otpgate/data.mdb.verified)" = "660 root:otpgate"
ok bash -c 'id -nG freerad | grep -qw otpgate'
ok test -f /usr/share/doc/otpgate/README.md.gz -o -f /usr/share/doc/otpgate/README.md
# Reinstalling never replaces the key, and never says it made one.
sum=$(sha256sum /etc/otpgate/master.key)
ok bash -c 'dpkg -i /debs/otpgate_*.deb 2>&1 | tee /tmp/reinstall.log'
no grep -q "created the master key" /tmp/reinstall.log
ok test "$(sha256sum /etc/otpgate/master.key)" = "$sum"
ok test "$(mode /var/lib/otpgate)" = "2770 root:otpgate"
ok bash -c '! grep -q pam_otpgate /etc/pam.d/common-auth'
# An upgrade of the module while it is not enabled leaves FreeRADIUS alone.
: > /tmp/policy-rc.log
ok bash -c 'dpkg -i /debs/freeradius-otpgate_*.deb 2>&1 | tee /tmp/upgrade.log'
no grep -q "freeradius" /tmp/policy-rc.log
no grep -q "restarting FreeRADIUS" /tmp/upgrade.log

# Enable, as README.Debian and README say.
ok otpgate enable sshd
ok otpgate enable radius
ok grep -q '^KbdInteractiveAuthentication yes' /etc/ssh/sshd_config.d/otpgate.conf
ok grep -q '^\$INCLUDE /usr/share/freeradius/dictionary.otpgate' $RADDB/dictionary
ok bash -c 'otpgate doctor > /tmp/doctor.log'
cat /tmp/doctor.log | sed 's/^/    doctor: /'

# Doctor on a broken installation: each problem with its fix.
chmod 0644 /etc/otpgate/master.key
no otpgate doctor
ok bash -c 'otpgate doctor | grep -q "master.key has mode 0644.*chmod 0640"'
chmod 0640 /etc/otpgate/master.key
gpasswd -d freerad otpgate >/dev/null
ok bash -c 'otpgate doctor | grep -A1 "FreeRADIUS user freerad" | grep -q "fix: adduser freerad otpgate"'
adduser --quiet freerad otpgate
ok otpgate doctor

# An upgrade while the module is enabled asks for FreeRADIUS's try-restart
# (a running radiusd keeps the old module), and says so.
: > /tmp/policy-rc.log
ok bash -c 'dpkg -i /debs/freeradius-otpgate_*.deb 2>&1 | tee /tmp/upgrade.log'
ok grep -Eq "^freeradius \(?try-restart\)?" /tmp/policy-rc.log
ok grep -q "upgraded while enabled: restarting FreeRADIUS if it runs" /tmp/upgrade.log

# Debian's freeradius, as freerad, with its default configuration plus otpgate.
printf 'VSST12345678,%s,hex,hotp\n' "$SECRET" > /tmp/t.csv
ok otpgate token import /tmp/t.csv
freeradius -f -l /tmp/radius.log & RADIUS=$!
for _ in $(seq 50); do grep -q "Ready to process requests" /tmp/radius.log 2>/dev/null && break; sleep 0.2; done
ok grep -q "Ready to process requests" /tmp/radius.log
ok test "$(ps -o user= -p $RADIUS)" = freerad
printf '#!/bin/sh\nexec radclient -d %s -x -t 3 -r 1 127.0.0.1:1645 auth testing123\n' $RADDB > /usr/local/bin/rad
chmod +x /usr/local/bin/rad
# Registration over RADIUS with the token's code now (counter 0) ...
ok bash -c "echo 'User-Name = \"alice\", User-Password = \"alicepw\", Otpgate-Action = Register, Otpgate-Credential-Id = \"VSST12345678\", Otpgate-Code = \"$(hotp 0)\"' | rad"
# ... lets alice log in through PAM (sshd's stack, as root) with the next code.
ok bash -c "printf 'alicepw\n$(hotp 1)\n' | timeout 20 pamtester sshd alice authenticate"
# A login over RADIUS (two rounds) with the code after that ...
ok bash -c "echo 'User-Name = \"alice\", User-Password = \"alicepw\", Response-Packet-Type = Access-Challenge' | rad > /tmp/round1"
STATE=$(sed -n 's/.*State = \(0x[0-9a-f]*\).*/\1/p' /tmp/round1 | head -1)
ok bash -c "echo 'User-Name = \"alice\", User-Password = \"$(hotp 2)\", State = $STATE' | rad"
# ... is refused through PAM as a replay (same store, one process each).
no bash -c "printf 'alicepw\n$(hotp 2)\n' | timeout 20 pamtester sshd alice authenticate"
ok bash -c "otpgate verify alice $(hotp 2); test \$? = 3"
# A user without a token still logs in on the password alone.
ok bash -c "printf 'carolpw\n' | timeout 20 pamtester sshd carol authenticate"
kill $RADIUS; wait $RADIUS 2>/dev/null

# The pam-auth-update profile in place of sshd's own line: enable sshd then
# writes only the drop-in, and the stack asks once.
ok otpgate disable sshd
ok pam-auth-update --enable otpgate
ok bash -o pipefail -c 'otpgate enable sshd | tee /tmp/enable.log'
ok grep -q "/etc/pam.d/sshd unchanged: common-auth requires the one-time password already" /tmp/enable.log
ok bash -c '! grep -q pam_otpgate /etc/pam.d/sshd'
ok otpgate doctor
ok bash -c "printf 'alicepw\n$(hotp 3)\n' | timeout 20 pamtester sshd alice authenticate"
ok bash -c "otpgate audit --user alice | tail -1 | grep -q 'action=login user=alice token=VSST12345678 outcome=accept frontend=pam'"
# The profile taken away under the drop-in: doctor says ssh lost its second factor.
ok pam-auth-update --disable otpgate
no otpgate doctor
ok bash -c 'otpgate doctor | grep -q "requires no one-time password: ssh logins have no second factor"'
ok otpgate disable sshd
ok otpgate enable sshd
ok grep -q pam_otpgate /etc/pam.d/sshd

# Removal refuses while a stack loads the module by hand, and says which ...
echo 'auth required pam_otpgate.so' >> /etc/pam.d/sudo
no bash -c 'dpkg -r libpam-otpgate 2> /tmp/refused.log'
ok grep -q "/etc/pam.d/sudo: auth required pam_otpgate.so" /tmp/refused.log
ok grep -q "take those lines out first, then remove the package again" /tmp/refused.log
ok test -e /lib/x86_64-linux-gnu/security/pam_otpgate.so
sed -i '/pam_otpgate/d' /etc/pam.d/sudo
# ... and otherwise takes out what enable added: radius by hand, sshd by prerm.
ok otpgate disable radius
ok bash -c 'dpkg -r freeradius-otpgate libpam-otpgate otpgate 2>&1 | tee /tmp/remove.log'
ok test ! -e /usr/sbin/otpgate
ok test -e /etc/otpgate/master.key
sums > /tmp/after
ok diff /tmp/before /tmp/after
# sshd's and su's stacks load and accept a password-only user (su as that
# user: unix_chkpwd checks only the caller's own password); FreeRADIUS starts.
ok bash -c "printf 'carolpw\n' | timeout 20 pamtester sshd carol authenticate"
ok bash -c "printf 'carolpw\n' | timeout 20 setpriv --reuid=carol --regid=carol --init-groups pamtester su carol authenticate"
ok bash -c 'freeradius -XC | grep -q "Configuration appears to be OK"'
ok sshd -t

# Purge keeps the secrets where it says.
ok bash -c 'dpkg --purge freeradius-otpgate libpam-otpgate otpgate 2>&1 | tee /tmp/purge.log'
BACKUP=$(sed -n 's/.*are kept in \(\/var\/backups\/otpgate-[0-9-]*\) .*/\1/p' /tmp/purge.log)
ok test -n "$BACKUP"
ok test "$(mode "$BACKUP/master.key")" = "600 root:root"
ok test "$(mode "$BACKUP/data.mdb")" = "600 root:root"
ok test "$(sha256sum < "$BACKUP/master.key")" = "$(echo "$sum" | cut -d' ' -f1)  -"
ok test ! -e /etc/otpgate/master.key
ok test ! -e /var/lib/otpgate
ok bash -c '! id -nG freerad | grep -qw otpgate'
ok grep -q "removed freerad from the group otpgate" /tmp/purge.log
ok grep -q "the system group otpgate is kept" /tmp/purge.log
ok test ! -e /var/backups/otpgate
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
