#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The sway session of the test guest (tests/vm/test-spice-sway.py): udev (libinput finds devices only
# through it), seatd, sway on the DRM card with libinput (our uinput device is its pointer), and our
# session agent in that session. Everything of the session runs as `nobody` (sway refuses root).
#   sway.sh start | run COMMAND… | stop
# Logs go to the results share; every wait has a timeout.
set -u
res=/run/vdtest/results
run=/run/vdtest/sway
[ -f "$res/guest.env" ] && . "$res/guest.env"
build=${VD_BUILD_ROOT:?VD_BUILD_ROOT not set}
user="setpriv --reuid=65534 --regid=65534 --clear-groups"

die() { echo "sway.sh: $*" >&2; exit 1; }
now() { read -r up _ </proc/uptime; echo "${up%.*}"; }
wait_until() {
    end=$(($(now) + $1)); shift
    while ! "$@" >/dev/null 2>&1; do
        [ "$(now)" -ge $end ] && return 1
        sleep 0.1
    done
}
session_env() {
    sock=$(ls $run/xdg/wayland-? 2>/dev/null | head -n 1)
    ipc=$(ls $run/xdg/sway-ipc.* 2>/dev/null | head -n 1)
    echo "HOME=$run/home XDG_RUNTIME_DIR=$run/xdg WAYLAND_DISPLAY=${sock##*/} SWAYSOCK=$ipc"
}

case "${1:-}" in
start)
    modprobe virtio_gpu || die "no virtio_gpu module"
    wait_until 30 test -e /dev/dri/card0 || die "no /dev/dri/card0"
    /lib/systemd/systemd-udevd --daemon >>$res/udevd.log 2>&1 || die "systemd-udevd did not start"
    udevadm trigger && udevadm settle -t 20
    mkdir -p $run/home $run/xdg $run/downloads
    chown 65534:65534 $run/home $run/xdg $run/downloads
    chmod 700 $run/xdg
    seatd -u nobody >>$res/seatd.log 2>&1 &
    echo $! >$run/seatd.pid
    wait_until 10 test -S /run/seatd.sock || die "seatd did not start"
    cat >$run/config <<CONF
xwayland disable
default_border none
focus_follows_mouse no
CONF
    env HOME=$run/home XDG_RUNTIME_DIR=$run/xdg LIBSEAT_BACKEND=seatd WLR_RENDERER=pixman \
        WLR_BACKENDS=drm,libinput $user sway -d -c $run/config >>$res/sway.log 2>&1 &
    echo $! >$run/sway.pid
    wait_until 60 sh -c "ls $run/xdg/sway-ipc.* && ls $run/xdg/wayland-?" || die "sway did not start"
    env $(session_env) $user "$build/src/session/vdagent" --foreground --debug --socket /run/vdagentd/session.sock \
        --file-dir $run/downloads >>$res/vdagent.log 2>&1 &
    echo $! >$run/agent.pid
    wait_until 20 grep -q "connected to" $res/vdagent.log || die "the agent did not reach the daemon"
    echo "sway and the agent run ($(session_env))"
    ;;
run)
    shift
    exec env $(session_env) $user "$@"
    ;;
stop)
    for p in agent sway seatd; do
        [ -f $run/$p.pid ] && kill "$(cat $run/$p.pid)" 2>/dev/null
    done
    udevadm control --exit 2>/dev/null
    ;;
*)
    die "usage: sway.sh start | run COMMAND… | stop"
    ;;
esac
