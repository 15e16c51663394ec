#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The host's volume (AUDIO_VOLUME_SYNC) end to end: a test host (tests/lib/vdwire.py) on the real
vdagentd's port, the real vdagent under Xvfb, and a real PulseAudio user daemon (tests/lib/pulse.py)
whose default sink and source are read back with pactl. Also: the daemon announces the capability
only while the agent applies volumes; bad messages are dropped by the daemon with a log line; a
flood is coalesced (last value wins, at most 4 applications a second); without a sound server the
agent falls back to the ALSA mixer and comes back to PulseAudio when it returns; vdagent-ctl status
shows what was applied."""

import json
import os
import re
import socket
import subprocess
import tempfile
import time

import vdwire
import agentlib
from agentlib import Agent
from daemon import VDAGENTD, Vdagentd
from pulse import PipeWireServer, PulseServer
from vdtest import Skip, Tap, diag, wait_for
from xserver import Xvfb

CTL = os.environ.get("VDAGENT_CTL") or os.path.join(os.environ.get("VD_BUILD_ROOT", "build"), "src", "ctl",
                                                    "vdagent-ctl")
NOISE = (vdwire.MSG_ANNOUNCE_CAPABILITIES, vdwire.MSG_CLIPBOARD_GRAB, vdwire.MSG_CLIPBOARD_RELEASE)
MIN_INTERVAL = 0.25  # VD_VOLUME_MIN_INTERVAL_MS

tap = Tap()
tmp = tempfile.mkdtemp(prefix="vd-test-audio-")
state = {}


def pct(p):
    """The host's u16 for p percent."""
    return round(p * 65535 / 100)


def send_volume(playback, mute, volumes):
    state["host"].send_message(vdwire.MSG_AUDIO_VOLUME_SYNC,
                               vdwire.build_audio_volume_sync(int(playback), int(mute), volumes))


def wait_pulse(playback, percents, muted, timeout=5.0):
    got = {}

    def ok():
        got["v"] = state["pulse"].volume(playback)
        return got["v"] == (percents, muted)
    try:
        wait_for(ok, timeout, interval=0.05, what="the volume")
    except AssertionError:
        raise AssertionError("pactl shows %r, want %r" % (got.get("v"), (percents, muted)))


def ctl_status():
    r = subprocess.run([CTL, "--control", state["daemon"].control, "--json", "status"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def guest_caps_until(pred, timeout=10.0):
    """Reads the guest's capability announcements until pred(caps) holds."""
    host = state["host"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            payload = host.expect(vdwire.MSG_ANNOUNCE_CAPABILITIES, max(0.05, deadline - time.monotonic()),
                                  skip=(vdwire.MSG_CLIPBOARD_GRAB, vdwire.MSG_CLIPBOARD_RELEASE))
        except TimeoutError:
            break
        caps = vdwire.Caps(vdwire.parse_announce_caps(payload)["caps"])
        if pred(caps):
            return caps
    raise AssertionError("the daemon never announced the expected capabilities")


def applied_lines():
    return [line for line in state["agent"].log().splitlines() if "applied through" in line]


def start_agent(args=()):
    state["agent"] = Agent(state["x"].display, state["daemon"].socket, file_dir=tmp, args=args,
                           env=state["pulse"].env())
    wait_for(lambda: "daemon link: connected to" in state["agent"].log(), 10.0, what="the agent to connect")


def t_start():
    if not os.access(VDAGENTD, os.X_OK):
        raise Skip("vdagentd is not built")
    state["pulse"] = PulseServer()
    state["x"] = Xvfb(1024, 768)
    host = state["host"] = vdwire.TestHost(os.path.join(tmp, "host.sock"))
    state["daemon"] = Vdagentd(host.path, tmp)
    host.accept(10.0)
    host.negotiate(vdwire.SPICE_GTK_CAPS | 1 << vdwire.CAP_AUDIO_VOLUME_SYNC)
    state["daemon"].wait_socket(10.0)
    start_agent()
    guest_caps_until(lambda c: c.has(vdwire.CAP_AUDIO_VOLUME_SYNC))


def t_playback():
    send_volume(True, False, [pct(50), pct(25)])
    wait_pulse(True, [50, 25], False)
    send_volume(True, True, [pct(80), pct(80)])
    wait_pulse(True, [80, 80], True)


def t_record_mono():
    send_volume(False, True, [pct(40)])
    wait_pulse(False, [40, 40], True)
    send_volume(False, False, [65535])
    wait_pulse(False, [100, 100], False)
    assert state["pulse"].volume(True) == ([80, 80], True), "the record volume changed the sink"


def t_status():
    time.sleep(0.3)
    st = ctl_status()
    a = st["audio"]
    assert a["playback"]["host"] == dict(volume=[pct(80)] * 2, percent=[80, 80], mute=True), a
    ap = a["playback"]["applied"]
    assert ap["backend"] == "pulse" and ap["error"] is None and ap["percent"] == [80, 80] and ap["mute"], a
    ar = a["record"]["applied"]
    assert ar["backend"] == "pulse" and ar["percent"] == [100] and not ar["mute"], a
    plain = subprocess.run([CTL, "--control", state["daemon"].control, "status"], capture_output=True, text=True,
                           timeout=10).stdout
    assert "pulse" in plain and "audio" in plain, plain


def t_flood():
    before = len(applied_lines())
    t0 = time.monotonic()
    for i in range(300):
        send_volume(True, False, [pct(1 + i % 90)] * 2)
    send_volume(True, False, [pct(33), pct(66)])
    sent = time.monotonic() - t0
    wait_pulse(True, [33, 66], False, timeout=5.0)
    time.sleep(2 * MIN_INTERVAL)  # anything still queued would show now
    elapsed = time.monotonic() - t0
    n = len(applied_lines()) - before
    # One at once, then at most one per interval; 301 messages must not mean 301 applications.
    limit = 2 + int(elapsed / MIN_INTERVAL)
    assert 1 <= n <= limit, "%d applications in %.2f s (sent in %.2f s), limit %d" % (n, elapsed, sent, limit)
    diag("flood: 301 volumes sent in %.2f s, %d applied in %.2f s" % (sent, n, elapsed))
    assert state["pulse"].volume(True) == ([33, 66], False)


def t_bad_input():
    log0 = len(state["daemon"].log_text())
    host = state["host"]
    # 2 channels announced, 1 present; 40 channels (above VD_LIMIT_AUDIO_CHANNELS); no channels
    host.send_message(vdwire.MSG_AUDIO_VOLUME_SYNC, bytes([1, 0, 2]) + pct(10).to_bytes(2, "little"))
    send_volume(True, False, [pct(10)] * 40)
    send_volume(True, False, [])
    # The first is refused by its parser (host.c), the others by the router's channel limits.
    wait_for(lambda: len(re.findall(r"ignoring (an|a malformed) AUDIO_VOLUME_SYNC",
                                    state["daemon"].log_text()[log0:])) >= 3, 5.0,
             what="three log lines for three bad messages")
    text = state["daemon"].log_text()[log0:]
    for why in ("shorter than its volumes", "more channels than", "no channels"):
        assert why in text, (why, text)
    time.sleep(2 * MIN_INTERVAL)
    assert state["pulse"].volume(True) == ([33, 66], False), "a bad message changed the volume"


def t_boolean_flags():
    # spice-gtk's mute is a gboolean that is not always 0 or 1: any non-zero byte means muted, as it
    # does to spice-vdagent; is_playback likewise.
    send_volume(2, 0xc8, [pct(33), pct(66)])
    wait_pulse(True, [33, 66], True)
    send_volume(True, False, [pct(33), pct(66)])
    wait_pulse(True, [33, 66], False)


def t_no_server():
    state["pulse"].stop()
    send_volume(True, False, [pct(20)] * 2)
    wait_for(lambda: ctl_status()["audio"]["playback"]["applied"]["percent"] == [20, 20], 5.0,
             what="the agent to report the volume")
    ap = ctl_status()["audio"]["playback"]["applied"]
    assert ap["backend"] == "alsa", ap
    if not os.path.exists("/proc/asound"):
        # No sound card on this machine: the fallback is tried and says why it failed.
        assert ap["error"] and "mixer" in ap["error"], ap
        assert "cannot apply the host's playback" in state["agent"].log()


def t_silent_server():
    """VD_AUDIO_PULSE_TIMEOUT_MS: a socket that accepts and never answers fails the volume after 5 s."""
    path = os.path.join(state["pulse"].run, "pulse", "native")
    if os.path.exists(path):
        os.unlink(path)
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.bind(path)
    silent.listen(4)
    try:
        t0 = time.monotonic()
        send_volume(True, False, [pct(15)] * 2)
        wait_for(lambda: ctl_status()["audio"]["playback"]["applied"]["percent"] == [15, 15], 10.0, interval=0.2,
                 what="the agent to report the volume")
        waited = time.monotonic() - t0
        ap = ctl_status()["audio"]["playback"]["applied"]
        assert ap["backend"] == "pulse" and "did not answer in 5000 ms" in ap["error"], ap
        assert 4.5 <= waited <= 8.0, waited
    finally:
        silent.close()
        os.unlink(path)


def t_server_back():
    state["pulse"].start()
    time.sleep(MIN_INTERVAL)
    send_volume(True, False, [pct(70)] * 2)
    wait_pulse(True, [70, 70], False)
    assert ctl_status()["audio"]["playback"]["applied"]["backend"] == "pulse"


def t_pipewire():
    """The same session switches to PipeWire (pipewire-pulse): the agent reconnects and applies."""
    pa = state["pa"] = state["pulse"]
    pa.stop()
    state["pw"] = PipeWireServer(run_dir=pa.run, home=pa.home)
    state["pulse"] = state["pw"]
    time.sleep(MIN_INTERVAL)
    send_volume(True, False, [pct(45), pct(55)])
    wait_pulse(True, [45, 55], False, timeout=10.0)
    send_volume(False, True, [pct(30)])
    wait_pulse(False, [30, 30], True)
    assert ctl_status()["audio"]["record"]["applied"]["backend"] == "pulse"


def t_audio_off():
    state["agent"].stop()
    start_agent(["--audio", "off"])
    guest_caps_until(lambda c: not c.has(vdwire.CAP_AUDIO_VOLUME_SYNC))
    before = state["pulse"].volume(True)
    send_volume(True, not before[1], [pct(5)] * 2)
    time.sleep(3 * MIN_INTERVAL)
    assert state["pulse"].volume(True) == before
    assert not applied_lines()


def t_bad_option():
    r = subprocess.run([os.environ.get("VDAGENT", "vdagent"), "--audio", "loud"], capture_output=True, text=True)
    assert r.returncode != 0 and "--audio must be auto, pulse, alsa or off" in r.stderr, (r.returncode, r.stderr)


try:
    tap.run_all([
        ("PulseAudio, vdagentd, vdagent start; AUDIO_VOLUME_SYNC announced", t_start),
        ("playback volume per channel and mute on the default sink", t_playback),
        ("record: a mono volume on the 2-channel default source, muted then not", t_record_mono),
        ("vdagent-ctl status shows the host's and the applied volumes", t_status),
        ("a flood of 301 volumes: the last wins, at most 4 applications a second", t_flood),
        ("bad messages (channels vs data, 40 channels, none) dropped with a log line", t_bad_input),
        ("is_playback and mute are C booleans: 2 and 0xc8 mean playback, muted", t_boolean_flags),
        ("no sound server: the ALSA mixer is tried, status says so", t_no_server),
        ("a sound server that never answers: the volume fails after 5 s, reported", t_silent_server),
        ("the sound server comes back: volumes go through it again", t_server_back),
        ("PipeWire (pipewire-pulse, WirePlumber) replaces PulseAudio: volumes applied there", t_pipewire),
        ("--audio off: capability withdrawn, nothing applied", t_audio_off),
        ("--audio with a bad value: usage error", t_bad_option),
        ("no agent logged a bug (failed argument check, impossible transition)", agentlib.assert_no_bugs),
    ], first_is_setup=True)
finally:
    for k in ("agent", "pw", "pa", "pulse"):
        if k in state:
            state[k].cleanup()
    if "daemon" in state:
        state["daemon"].stop()
