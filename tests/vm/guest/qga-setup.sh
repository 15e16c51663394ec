#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Sets up the test guest for test-qga-libvirt.py: an ext4 disk (the domain's vda) mounted at
# /run/vdtest/data, lo up, a fake account root, a system bus with python3-dbusmock's logind (its
# Suspend really suspends the guest to RAM), the four QGA helpers socket-activated as their units
# would be, and vdagentd serving org.qemu.guest_agent.0. Logs go to the results share; nothing started
# here keeps the command server's output pipes open.
set -eu
build=$1
res=/run/vdtest/results
run=/run/vdtest/qga
mkdir -p $run/helpers $run/data /run/vdagentd
modprobe virtio_blk
modprobe ext4
for i in $(seq 50); do [ -b /dev/vda ] && break; sleep 0.1; done
mount -t ext4 /dev/vda $run/data
ip link set lo up
# alice (uid 4242) in a fake root: set-user-password and the authorized keys never touch /etc.
acct=$run/root
mkdir -p $acct/etc $acct/home/alice
echo 'alice:x:4242:4242:Alice:/home/alice:/bin/sh' >$acct/etc/passwd
echo 'alice:x:4242:' >$acct/etc/group
echo 'alice:*:19000:0:99999:7:::' >$acct/etc/shadow
chmod 640 $acct/etc/shadow
chown 4242:4242 $acct/home/alice
chmod 700 $acct/home/alice
# A system bus and logind (python3-dbusmock): its Suspend really suspends the guest to RAM.
cat >$run/bus.conf <<XML
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=$run/bus</listen>
<policy context="default"><allow send_destination="*"/><allow receive_sender="*"/><allow own="*"/>
<allow user="*"/></policy></busconfig>
XML
dbus-daemon --config-file=$run/bus.conf --fork --print-pid >$run/bus.pid 2>>$res/dbus.log </dev/null
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$run/bus
python3 -m dbusmock --template logind --system </dev/null >>$res/logind.log 2>&1 &
for i in $(seq 100); do
    gdbus introspect --system -d org.freedesktop.login1 -o /org/freedesktop/login1 >/dev/null 2>&1 && break
    sleep 0.2
done
gdbus call --system -d org.freedesktop.login1 -o /org/freedesktop/login1 \
    -m org.freedesktop.DBus.Mock.AddMethod org.freedesktop.login1.Manager Suspend b '' \
    "import subprocess; subprocess.Popen(['sh', '-c', 'sleep 0.5; echo mem > /sys/power/state'])" >/dev/null
# The helpers, each as its socket unit would start it.
helper=$build/src/system/vdagentd-qga-helper
for f in fs time hotplug account; do
    extra=""
    [ $f = account ] && extra="--root $acct"
    systemd-socket-activate --accept --inetd -l $run/helpers/qga-$f.sock $helper $f $extra \
        </dev/null >>$res/qga-helper-$f.log 2>&1 &
done
for i in $(seq 50); do [ -S $run/helpers/qga-account.sock ] && break; sleep 0.1; done
VDAGENT_QGA_HELPER_DIR=$run/helpers "$build/src/system/vdagentd" --foreground --debug --session-tracking none \
    --port /dev/virtio-ports/com.redhat.spice.0 --socket /run/vdagentd/session.sock \
    --control /run/vdagentd/control.sock --qga-port /dev/virtio-ports/org.qemu.guest_agent.0 \
    </dev/null >>$res/vdagentd.log 2>&1 &
echo $! >$run/vdagentd.pid
echo ready
