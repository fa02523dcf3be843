#!/bin/sh
# First-factor stand-in for the PAM tests (pam_exec expose_authtok): the
# password on standard input (NUL-terminated) must equal $1.
IFS= read -r password || true
password=$(printf '%s' "$password" | tr -d '\000')
[ "$password" = "$1" ]
