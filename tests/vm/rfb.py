# SPDX-License-Identifier: GPL-3.0-or-later
"""A small RFB (VNC) client for the VM tests, stdlib only: enough to play a VNC viewer against QEMU's
qemu-vdagent host side — pointer events and the extended clipboard (pseudo-encoding 0xC0A1E5CE, zlib Provide).

RFB 3.8, security type None. The server is never asked for framebuffer updates; any it sends are skipped.
Like a real viewer, a reader thread answers the server at once (QEMU asks the viewer for clipboard data only
when a guest application pastes, and the paste waits for that answer).
"""
import socket
import struct
import threading
import time
import zlib

EXT_CLIPBOARD = 0xC0A1E5CE
ENCODINGS = [0, -223, struct.unpack(">i", struct.pack(">I", EXT_CLIPBOARD))[0]]  # raw, DesktopSize, ext clip
# Extended clipboard flags (formats in the low bits, actions in the high byte)
FMT_TEXT = 1 << 0
CAPS, REQUEST, PEEK, NOTIFY, PROVIDE = 1 << 24, 1 << 25, 1 << 26, 1 << 27, 1 << 28
# PointerEvent button mask
LEFT, MIDDLE, RIGHT, WHEEL_UP, WHEEL_DOWN = 1, 2, 4, 8, 16
MAX_TEXT = 64 << 20


class RFBError(Exception):
    pass


class Client:
    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.server_caps = None
        self.notified = False      # the server announced new clipboard text
        self.texts = []            # texts the server provided (extended) or sent (legacy cut text)
        self.requests = 0          # the server asked for our clipboard
        self.raw_texts = []        # provided texts as received, before stripping the trailing NUL
        self.error = None
        self.cond = threading.Condition()
        self.send_lock = threading.Lock()
        self.handshake()
        self.sock.settimeout(None)
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()

    def _reader(self):
        try:
            while True:
                self._message(None)
                with self.cond:
                    self.cond.notify_all()
        except (OSError, RFBError, ValueError, zlib.error) as e:
            with self.cond:
                self.error = e
                self.cond.notify_all()

    # -- bytes ----------------------------------------------------------------------------------------
    def _recv(self, n, deadline):
        while len(self.buf) < n:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout("RFB read timed out")
                self.sock.settimeout(left)
            data = self.sock.recv(1 << 20)
            if not data:
                raise RFBError("the VNC server closed the connection")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def handshake(self):
        deadline = time.monotonic() + 10
        version = self._recv(12, deadline)
        if not version.startswith(b"RFB 003."):
            raise RFBError(f"not an RFB server: {version!r}")
        self.sock.sendall(b"RFB 003.008\n")
        (n,) = self._recv(1, deadline)
        if n == 0:
            (length,) = struct.unpack(">I", self._recv(4, deadline))
            raise RFBError("server refused: " + self._recv(length, deadline).decode(errors="replace"))
        types = self._recv(n, deadline)
        if 1 not in types:
            raise RFBError(f"no 'None' security type offered: {list(types)}")
        self.sock.sendall(b"\x01")
        (result,) = struct.unpack(">I", self._recv(4, deadline))
        if result != 0:
            raise RFBError(f"security handshake failed ({result})")
        self.sock.sendall(b"\x01")  # ClientInit: shared
        self.width, self.height = struct.unpack(">HH", self._recv(4, deadline))
        self._recv(16, deadline)  # pixel format
        (nlen,) = struct.unpack(">I", self._recv(4, deadline))
        self.name = self._recv(nlen, deadline).decode(errors="replace")
        self.sock.sendall(struct.pack(">BxH", 2, len(ENCODINGS)) +
                          b"".join(struct.pack(">i", e) for e in ENCODINGS))

    # -- messages from the server (reader thread) -----------------------------------------------------
    def poll(self, seconds):
        """Waits up to `seconds` for anything from the server (kept for callers that pace themselves)."""
        with self.cond:
            self.cond.wait(seconds)
            if self.error:
                raise RFBError(f"VNC connection failed: {self.error}")

    def wait(self, pred, timeout):
        """Waits until pred() is true (checked under the lock after each server message)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0 or self.error:
                    return pred()
                self.cond.wait(left)
            return True

    def _message(self, deadline):
        (kind,) = self._recv(1, deadline)
        if kind == 0:  # FramebufferUpdate
            _, n = struct.unpack(">xH", self._recv(3, deadline))
            for _ in range(n):
                x, y, w, h, enc = struct.unpack(">HHHHi", self._recv(12, deadline))
                if enc == 0:
                    self._recv(w * h * 4, deadline)
                elif enc == -223:
                    self.width, self.height = w, h
                else:
                    raise RFBError(f"unexpected encoding {enc} in a framebuffer update")
        elif kind == 1:  # SetColourMapEntries
            _, n = struct.unpack(">xHH", self._recv(5, deadline))
            self._recv(6 * n, deadline)
        elif kind == 2:  # Bell
            pass
        elif kind == 3:  # ServerCutText
            (length,) = struct.unpack(">3xi", self._recv(7, deadline))
            if length >= 0:
                if length > MAX_TEXT:
                    raise RFBError(f"cut text of {length} bytes")
                self.texts.append(self._recv(length, deadline).decode("latin-1"))
            else:
                if -length > MAX_TEXT or -length < 4:
                    raise RFBError(f"extended cut text of {-length} bytes")
                self._extended(self._recv(-length, deadline))
        else:
            raise RFBError(f"unknown server message type {kind}")

    def _extended(self, data):
        (flags,) = struct.unpack(">I", data[:4])
        body = data[4:]
        if flags & CAPS:
            # answer with ours (text up to MAX_TEXT, all actions) before anyone sees the server's
            self._send_ext(CAPS | REQUEST | PEEK | NOTIFY | PROVIDE | FMT_TEXT, struct.pack(">I", MAX_TEXT))
            with self.cond:
                self.server_caps = flags
        elif flags & PROVIDE:
            raw = zlib.decompressobj().decompress(body, MAX_TEXT + 8)
            if flags & FMT_TEXT:
                (n,) = struct.unpack(">I", raw[:4])
                text = raw[4:4 + n]
                self.raw_texts.append(text)
                if text.endswith(b"\0"):
                    text = text[:-1]
                with self.cond:
                    self.texts.append(text.decode("utf-8", errors="replace"))
        elif flags & NOTIFY:
            if flags & FMT_TEXT:
                self.notified = True
                self._send_ext(REQUEST | FMT_TEXT)
        elif flags & REQUEST:
            with self.cond:
                self.requests += 1
            if self.pending is not None and flags & FMT_TEXT:
                self._provide(self.pending)
        elif flags & PEEK:
            if self.pending is not None:
                self._send_ext(NOTIFY | FMT_TEXT)

    # -- messages to the server -----------------------------------------------------------------------
    pending = None
    nul = True  # text NUL-terminated, as the extended clipboard specification says and real viewers send

    def _send(self, data):
        with self.send_lock:
            self.sock.sendall(data)

    def _send_ext(self, flags, payload=b""):
        data = struct.pack(">I", flags) + payload
        self._send(struct.pack(">B3xi", 6, -len(data)) + data)

    def _provide(self, text):
        raw = text.encode("utf-8") + (b"\0" if self.nul else b"")
        self._send_ext(PROVIDE | FMT_TEXT, zlib.compress(struct.pack(">I", len(raw)) + raw))

    def copy(self, text):
        """Puts text on the 'host' clipboard: Notify, then Provide when the server requests it."""
        if not self.wait(lambda: self.server_caps is not None, 5):
            raise RFBError("the server never announced extended clipboard caps")
        self.pending = text
        self._send_ext(NOTIFY | FMT_TEXT)

    def wait_text(self, want, timeout):
        """Waits until the server provided text equal to want."""
        return self.wait(lambda: want in self.texts, timeout)

    def pointer(self, x, y, buttons=0):
        self._send(struct.pack(">BBHH", 5, buttons, x, y))

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
