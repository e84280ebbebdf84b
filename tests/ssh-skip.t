#!/bin/bash
# tests/ssh.sh without an sshd: the ssh tests skip with the reason, and under
# MMOE_REQUIRE_SSH=1 (as in CI) that skip is a failure.
. "$(dirname "$0")/lib.sh"
probe() { # env...: the TAP output of a test that needs the loopback machine
	env "$@" bash -c '. "$MMOE_TOP/tests/lib.sh"; . "$MMOE_TOP/tests/ssh.sh"
		remote_start || { done_testing; exit; }; ok true "never here"; done_testing'
}
run probe MMOE_SSHD=/nonexistent/sshd MMOE_REQUIRE_SSH=0
is "$rc" 0 "without sshd the test passes"
like "$out" "^ok 1 # SKIP no loopback sshd: /nonexistent/sshd is not installed" "with a visible skip and the reason"
run probe MMOE_SSHD=/nonexistent/sshd MMOE_REQUIRE_SSH=1
isnt "$rc" 0 "under MMOE_REQUIRE_SSH=1 it fails"
like "$out" "^not ok 1 - a loopback sshd for the ssh tests \(MMOE_REQUIRE_SSH=1\): /nonexistent/sshd is not installed" \
	"naming what is missing"
done_testing
