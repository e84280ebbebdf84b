# tests/ssh.sh — a second "machine" for the tests: a private sshd on the
# loopback.  Source it after lib.sh, then:
#
#   remote_start || { done_testing; exit; }   # skips visibly when it cannot run
#   parallel --sshlogin "$REMOTE" ...          # PARALLEL_SSH is set for it
#   remote_run 'command'                       # one command on the remote side
#
# remote_start starts /usr/sbin/sshd bound to 127.0.0.1 on a free port, with a
# host key and a user key made for this test in $T/ssh, and stops it by its pid
# at exit, whatever happens.  Nothing talks to any other address.  The ssh
# client shares one connection among the jobs (ControlMaster): GNU parallel
# opens several per job, and a key exchange costs more than a small job.
#
# As root, the remote side is a throw-away user (mmoe-ssh-<pid>, removed at
# exit; leftovers of killed runs are removed first) whose home is its only
# writable place and who cannot read $T: tests keep the local side of their
# pipelines (binaries, scripts, data) under $T, so that a remote job can only
# use what GNU parallel transferred.  As another user, sshd logs in as that
# same user (it cannot switch users): the remote jobs get a fresh work
# directory, but the "cannot read the local tree" check is skipped.
#
# Without sshd, ssh, rsync or GNU parallel the tests are skipped with the
# reason; with MMOE_REQUIRE_SSH=1 (set by .ci/run) such a skip is a failure.

REMOTE=mmoe-remote
SSHD=${MMOE_SSHD:-/usr/sbin/sshd}   # (another one: to test the skip)
_remote_pid= _remote_user= _remote_home=

_remote_cleanup() {
	if [ -n "$_remote_pid" ]; then
		# the shared connection's master process, then sshd
		ssh -F "$T/ssh/config" -O exit "$REMOTE" 2>/dev/null
		kill "$_remote_pid" 2>/dev/null
		wait "$_remote_pid" 2>/dev/null
	fi
	if [ -n "$_remote_user" ]; then
		for _t in 1 2 3 4 5; do
			userdel --force --remove "$_remote_user" 2>/dev/null
			getent passwd "$_remote_user" >/dev/null || break
			sleep 1
		done
		rm -rf "$_remote_home"
	fi
	rm -rf "$T"
}
trap _remote_cleanup EXIT
trap 'exit 2' INT TERM HUP

# remote_skip REASON: the tests cannot run here; a failure under MMOE_REQUIRE_SSH=1
remote_skip() {
	if [ "${MMOE_REQUIRE_SSH:-0}" = 1 ]; then
		_report 1 "a loopback sshd for the ssh tests (MMOE_REQUIRE_SSH=1): $1"
	else
		skip "no loopback sshd: $1"
	fi
}

# remote_run CMD: run CMD on the remote side (stdout, stderr, status as ssh's)
remote_run() { ssh -F "$T/ssh/config" "$REMOTE" "$@"; }

_remote_user_add() { # name home
	local u pid
	# leftovers of runs that were killed before their cleanup
	for u in $(getent passwd | cut -d: -f1 | grep -E '^mmoe-ssh-[0-9]+$'); do
		pid=${u#mmoe-ssh-}
		[ "$pid" != "$$" ] && kill -0 "$pid" 2>/dev/null && continue
		userdel --force --remove "$u" 2>/dev/null
	done
	rm -rf "$2"
	# a password of '*': no password login, but not a locked account (which sshd
	# refuses); tried again while another test holds the lock on /etc/passwd
	local try
	for try in 1 2 3 4 5 6; do
		useradd --create-home --home-dir "$2" --shell /bin/sh --user-group --password '*' "$1" \
			2>"$T/ssh/useradd.err" && break
		[ "$try" = 6 ] && return 1
		getent passwd "$1" >/dev/null && userdel --force --remove "$1" 2>/dev/null
		sleep 1
	done
	_remote_user=$1 _remote_home=$2
}

remote_start() {
	local t port try
	for t in "$SSHD" ssh ssh-keygen rsync parallel perl; do
		command -v "$t" >/dev/null 2>&1 || { remote_skip "$t is not installed"; return 1; }
	done
	mkdir -m 700 "$T/ssh"
	ssh-keygen -q -t ed25519 -N '' -C mmoe-test-host -f "$T/ssh/host" || { remote_skip "ssh-keygen failed"; return 1; }
	ssh-keygen -q -t ed25519 -N '' -C mmoe-test-user -f "$T/ssh/id" || { remote_skip "ssh-keygen failed"; return 1; }
	local keys="AuthorizedKeysFile .ssh/authorized_keys" strict=yes
	if [ "$(id -u)" = 0 ]; then
		_remote_user_add "mmoe-ssh-$$" "/tmp/mmoe-ssh-$$.home" ||
			{ remote_skip "useradd failed: $(cat "$T/ssh/useradd.err")"; return 1; }
		install -d -m 700 -o "$_remote_user" -g "$_remote_user" "$_remote_home/.ssh"
		install -m 600 -o "$_remote_user" -g "$_remote_user" "$T/ssh/id.pub" "$_remote_home/.ssh/authorized_keys"
		# sshd's privilege separation directory (made at boot by the service we do not start)
		mkdir -p /run/sshd && chmod 755 /run/sshd
		REMOTE_USER=$_remote_user
	else
		# sshd runs as us and reads the key where we put it ($T is under a world-writable /tmp)
		REMOTE_USER=$(id -un)
		cp "$T/ssh/id.pub" "$T/ssh/authorized_keys"
		keys="AuthorizedKeysFile $T/ssh/authorized_keys" strict=no
	fi
	for try in 1 2 3; do
		port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		cat > "$T/ssh/sshd_config" <<-EOF
		ListenAddress 127.0.0.1:$port
		HostKey $T/ssh/host
		PidFile none
		$keys
		StrictModes $strict
		AllowUsers $REMOTE_USER
		PubkeyAuthentication yes
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		PermitRootLogin no
		X11Forwarding no
		AllowTcpForwarding no
		PermitTunnel no
		MaxStartups 100
		MaxSessions 100
		LogLevel VERBOSE
		EOF
		"$SSHD" -D -e -f "$T/ssh/sshd_config" 2>"$T/ssh/sshd.log" &
		_remote_pid=$!
		cat > "$T/ssh/config" <<-EOF
		Host $REMOTE
		  HostName 127.0.0.1
		  Port $port
		  User $REMOTE_USER
		  IdentityFile $T/ssh/id
		  IdentitiesOnly yes
		  HostKeyAlias $REMOTE
		  UserKnownHostsFile $T/ssh/known_hosts
		  GlobalKnownHostsFile /dev/null
		  StrictHostKeyChecking yes
		  BatchMode yes
		  ConnectTimeout 10
		  LogLevel ERROR
		  ControlMaster auto
		  ControlPath $T/ssh/cm-%C
		  ControlPersist 120
		EOF
		echo "$REMOTE $(cat "$T/ssh/host.pub")" > "$T/ssh/known_hosts"
		for t in $(seq 50); do
			remote_run true 2>/dev/null && break
			kill -0 "$_remote_pid" 2>/dev/null || break
			sleep 0.1
		done
		if remote_run true 2>"$T/ssh/client.err"; then
			export PARALLEL_SSH="ssh -F $T/ssh/config"
			echo "# sshd pid $_remote_pid on 127.0.0.1:$port, remote user $REMOTE_USER"
			return 0
		fi
		# another port only when sshd could not listen on this one
		kill -0 "$_remote_pid" 2>/dev/null && break
		wait "$_remote_pid" 2>/dev/null
		_remote_pid=
	done
	remote_skip "sshd did not start or refused the login: $(tail -n 3 "$T/ssh/sshd.log" "$T/ssh/client.err" | tr '\n' ' ')"
	return 1
}

# remote_files: what the remote user's home holds (GNU parallel's own ~/.parallel
# aside), to check that jobs leave nothing behind
remote_files() { remote_run 'ls -A' | grep -vx '\.parallel'; }

# remote_cannot_read PATH DESC: the remote side cannot read PATH (as root; the
# check is skipped as another user, see above)
remote_cannot_read() {
	if [ -z "$_remote_user" ]; then
		skip "remote side runs as the same user: cannot check that it cannot read $1"
		return
	fi
	local r
	r=$(remote_run "cat '$1' >/dev/null 2>&1 && echo readable; ls '$(dirname "$1")' >/dev/null 2>&1 && echo listable; echo done")
	is "$r" done "$2"
}
