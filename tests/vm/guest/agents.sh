#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Starts and stops what runs in the test guest (tests/vm): the system daemon, Xorg, the session agent and,
# for the reference agent, qemu-ga. The agent is ours (VD_VM_AGENT=ours: BUILD/src/system/vdagentd and
# BUILD/src/session/vdagent) or Debian's spice-vdagent 0.22 (VD_VM_AGENT=reference).
#   agents.sh start-daemon | stop-daemon | kill-daemon | start-x [WxH] | start-x-kms | stop-x
#   agents.sh start-session | stop-session | kill-session | freeze-session | thaw-session | start-qga
#   agents.sh pointer-device | agent-device | status
# Logs go to the results share (/run/vdtest/results/*.log); every wait has a timeout.
set -u
here=$(dirname "$0")
res=/run/vdtest/results
run=/run/vdtest
[ -f "$res/guest.env" ] && . "$res/guest.env"
agent=${VD_VM_AGENT:-ours}
build=${VD_BUILD_ROOT:?VD_BUILD_ROOT not set}
export DISPLAY=:0 HOME=$run/home XDG_RUNTIME_DIR=$run/xdg
mkdir -p "$run/home" "$run/xdg" "$run/downloads" /run/vdagentd /run/spice-vdagentd
chmod 700 "$run/xdg"
port=/dev/virtio-ports/com.redhat.spice.0
qga_port=/dev/virtio-ports/org.qemu.guest_agent.0

die() { echo "agents.sh: $*" >&2; exit 1; }
now() { read -r up _ </proc/uptime; echo "${up%.*}"; }
# wait_until SECONDS COMMAND… — polls every 0.1 s until COMMAND succeeds or SECONDS (wall time) pass.
wait_until() {
    end=$(($(now) + $1)); shift
    while ! "$@" >/dev/null 2>&1; do
        [ "$(now)" -ge $end ] && return 1
        sleep 0.1
    done
}
dead() { ! kill -0 "$1" 2>/dev/null; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop_pid() { # pidfile signal
    [ -f "$1" ] || return 0
    p=$(cat "$1")
    kill "-$2" "$p" 2>/dev/null
    wait_until 10 dead "$p" || { kill -9 "$p" 2>/dev/null; sleep 0.2; }
    rm -f "$1"
}
events() { ls /sys/class/input/ 2>/dev/null | grep '^event' | sort; }
new_event() { events | comm -13 $run/events.before - | grep -q .; }
by_name() { # NAME → /dev/input/eventN (the first input device with exactly that name)
    for n in /sys/class/input/event*/device/name; do
        read -r name <"$n" 2>/dev/null || continue
        [ "$name" = "$1" ] || continue
        n=${n%/device/name}
        echo "/dev/input/${n##*/}"
        return 0
    done
    return 1
}

case "${1:-}" in
start-daemon)
    alive $run/daemon.pid && die "daemon already running"
    events >$run/events.before
    echo "=== start $(date +%T) ($agent)" >>$res/vdagentd.log
    if [ "$agent" = ours ]; then
        qga=none
        [ -e $qga_port ] && qga=$qga_port
        "$build/src/system/vdagentd" --foreground --debug --session-tracking none --port $port \
            --socket /run/vdagentd/session.sock --control /run/vdagentd/control.sock --qga-port $qga \
            >>$res/vdagentd.log 2>&1 &
    else
        spice-vdagentd -x -X -d -s $port -S /run/spice-vdagentd/spice-vdagent-sock >>$res/vdagentd.log 2>&1 &
    fi
    echo $! >$run/daemon.pid
    if [ "$agent" = reference ] && ! alive $run/mirror.pid; then
        # spice-vdagentd 0.22 makes its device only once a session agent reports its screen: X gets a
        # stable mirror of it instead (see evdev.py).
        /usr/bin/python3 "$here/evdev.py" mirror '^spice vdagent tablet$' >>$res/mirror.log 2>&1 &
        echo $! >$run/mirror.pid
    fi
    if [ "$agent" = reference ] && [ -f $run/pointer ]; then
        :  # the mirror from the first start stays X's pointer
    else
        # Its uinput device: the event node that was not there before.
        if ! wait_until 20 new_event; then
            alive $run/daemon.pid || die "the daemon exited at start (see vdagentd.log)"
            die "no new input device within 20 s"
        fi
        ev=$(events | comm -13 $run/events.before - | head -n 1)
        wait_until 5 test -c "/dev/input/$ev" || die "/dev/input/$ev did not appear"
        echo "/dev/input/$ev" >$run/pointer
    fi
    sleep 0.3
    alive $run/daemon.pid || die "the daemon exited at start (see vdagentd.log)"
    ev=$(basename "$(cat $run/pointer)")
    echo "$(cat $run/pointer) $(cat /sys/class/input/$ev/device/name)"
    ;;
stop-daemon) stop_pid $run/daemon.pid TERM ;;
kill-daemon) stop_pid $run/daemon.pid KILL ;;
pointer-device) cat $run/pointer ;;
agent-device) # the agent's own uinput device (not the mirror)
    if [ "$agent" = reference ]; then
        wait_until 30 by_name 'spice vdagent tablet' || die "spice-vdagentd made no device in 30 s"
        by_name 'spice vdagent tablet'
    else cat $run/pointer; fi
    ;;
start-x)
    size=${2:-1024x768}
    dev=$(cat $run/pointer 2>/dev/null) || die "start the daemon first (its device is X's pointer)"
    cat >$run/xorg.conf <<CONF
Section "ServerFlags"
    Option "AutoAddDevices" "false"
    Option "DontVTSwitch" "true"
    Option "BlankTime" "0"
    Option "StandbyTime" "0"
    Option "SuspendTime" "0"
    Option "OffTime" "0"
EndSection
Section "ServerLayout"
    Identifier "vdtest"
    Screen "screen"
    InputDevice "agent-pointer" "CorePointer"
EndSection
Section "InputDevice"
    Identifier "agent-pointer"
    Driver "evdev"
    Option "Device" "$dev"
EndSection
Section "Device"
    Identifier "dummy"
    Driver "dummy"
    VideoRam 256000
EndSection
Section "Monitor"
    Identifier "monitor"
    HorizSync 5.0-1000.0
    VertRefresh 5.0-200.0
EndSection
Section "Screen"
    Identifier "screen"
    Device "dummy"
    Monitor "monitor"
    DefaultDepth 24
    SubSection "Display"
        Depth 24
        Virtual 8192 4096
        Modes "$size"
    EndSubSection
EndSection
CONF
    /usr/lib/xorg/Xorg :0 -config $run/xorg.conf -noreset -nolisten tcp -logfile $res/Xorg.log \
        -novtswitch -sharevts vt1 >$res/Xorg.stderr.log 2>&1 &
    echo $! >$run/x.pid
    wait_until 30 xdpyinfo || { alive $run/x.pid || die "Xorg exited (see Xorg.log)"; die "Xorg not ready in 30 s"; }
    xrandr --current | head -n 1
    ;;
start-x-kms)
    # Xorg's modesetting driver on the guest's DRM card (virtio-gpu): its outputs are the card's
    # connectors (Virtual-1…), as on a real desktop. No udev: the card is named explicitly.
    dev=$(cat $run/pointer 2>/dev/null) || die "start the daemon first (its device is X's pointer)"
    wait_until 30 test -e /dev/dri/card0 || die "no /dev/dri/card0 (is virtio_gpu loaded?)"
    cat >$run/xorg.conf <<CONF
Section "ServerFlags"
    Option "AutoAddDevices" "false"
    Option "AutoAddGPU" "false"
    Option "DontVTSwitch" "true"
    Option "BlankTime" "0"
EndSection
Section "ServerLayout"
    Identifier "vdtest"
    Screen "screen"
    InputDevice "agent-pointer" "CorePointer"
EndSection
Section "InputDevice"
    Identifier "agent-pointer"
    Driver "evdev"
    Option "Device" "$dev"
EndSection
Section "Device"
    Identifier "kms"
    Driver "modesetting"
    Option "kmsdev" "/dev/dri/card0"
    Option "AccelMethod" "none"
EndSection
Section "Screen"
    Identifier "screen"
    Device "kms"
    DefaultDepth 24
    SubSection "Display"
        Depth 24
        Virtual 4096 2048
    EndSubSection
EndSection
CONF
    /usr/lib/xorg/Xorg :0 -config $run/xorg.conf -noreset -nolisten tcp -logfile $res/Xorg.log \
        -novtswitch -sharevts vt1 >$res/Xorg.stderr.log 2>&1 &
    echo $! >$run/x.pid
    wait_until 30 xdpyinfo || { alive $run/x.pid || die "Xorg exited (see Xorg.log)"; die "Xorg not ready in 30 s"; }
    xrandr --current | head -n 3
    ;;
stop-x) stop_pid $run/x.pid TERM ;;
start-session)
    alive $run/session.pid && die "session agent already running"
    echo "=== start $(date +%T) ($agent)" >>$res/vdagent.log
    if [ "$agent" = ours ]; then
        "$build/src/session/vdagent" --foreground --debug --socket /run/vdagentd/session.sock --display :0 \
            --file-dir $run/downloads >>$res/vdagent.log 2>&1 &
    else
        spice-vdagent -x -d -S /run/spice-vdagentd/spice-vdagent-sock --display=:0 -f $run/downloads \
            -o 0 >>$res/vdagent.log 2>&1 &
    fi
    echo $! >$run/session.pid
    sleep 0.5
    alive $run/session.pid || die "the session agent exited at start (see vdagent.log)"
    ;;
stop-session) stop_pid $run/session.pid TERM ;;
kill-session) stop_pid $run/session.pid KILL ;;
# Hold the session agent still (it neither reconnects nor reads) and let it go again.
freeze-session) alive $run/session.pid && kill -STOP "$(cat $run/session.pid)" ;;
thaw-session) alive $run/session.pid && kill -CONT "$(cat $run/session.pid)" ;;
start-qga)
    # Ours serves QGA in vdagentd; the reference has none, so qemu-ga plays that part.
    [ "$agent" = ours ] && exit 0
    qemu-ga -m virtio-serial -p $qga_port -t $run -l $res/qemu-ga.log -v >>$res/qemu-ga.log 2>&1 &
    echo $! >$run/qga.pid
    ;;
status)
    for p in daemon mirror x session qga; do
        if alive $run/$p.pid; then echo "$p: running ($(cat $run/$p.pid))"; else echo "$p: not running"; fi
    done
    ;;
*) die "unknown subcommand '${1:-}'" ;;
esac
