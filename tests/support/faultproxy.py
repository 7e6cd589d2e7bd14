#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""tests/support/faultproxy.py: a fault-injecting TCP proxy for tests (stdlib only).

It listens on 127.0.0.1, forwards every connection to --target, and understands enough of the
Redis (RESP) and Postgres (frontend/backend v3) protocols to inject faults at a chosen command:

  reset  after forwarding the k-th matching command, hold back whatever the client sends after
         it, relay the replies to the commands before it, let the server's reply to it arrive,
         then reset both connections (SO_LINGER 0 -> RST) WITHOUT relaying that reply: the
         command ran, the client saw its connection reset (a lost reply, an unknown outcome).
  stall  after forwarding the k-th matching command, stop relaying in both directions, on every
         connection, for --stall-seconds (nothing is closed; bytes already accepted toward the
         server are still delivered, as if they had been on the wire): a silent partition.

Usage:
  /usr/bin/python3 tests/support/faultproxy.py --target 127.0.0.1:6379 --proto redis \\
      --match SET --after 5 --action reset [--every 50]
  /usr/bin/python3 tests/support/faultproxy.py --target 127.0.0.1:5432 --proto postgres \\
      --match COMMIT --after 1 --action reset
  /usr/bin/python3 tests/support/faultproxy.py --target HOST:PORT --proto redis \\
      --match EVALSHA --after 3 --action stall --stall-seconds 10

  --port N          listen port (default 0: the kernel picks one)
  --match WHAT      redis: a command name (SET, EVALSHA, EVAL, ...; case-insensitive) or ANY.
                    postgres: SYNC (every Sync message: the k-th Sync of a pipeline), ANY (every
                    Query and Execute), or a string: a Query ('Q') or Execute ('E') matches when
                    the SQL it runs contains it (case-insensitive) or its prepared statement is
                    named exactly that; COMMIT matches a "COMMIT" sent as a Query or prepared.
                    Without --match the proxy only relays (faults can still be armed later).
  --after K         fire on the K-th match (1-based; counted over all connections; default 1)
  --every N         then fire again on every N-th match after it (K, K+N, K+2N, ...)
  --action A        reset (default) or stall
  --stall-seconds S how long a stall lasts (default 5; 0: until `resume` on the control port)

Output: stdout's first line is the listen port, the second the control port (both 127.0.0.1);
then the proxy runs until SIGTERM/SIGINT. Each fault is logged on stderr.

Control port: a line protocol, one command per line, one reply line each:
  stats                          -> "commands=N matched=M faults=F connections=C stalled=0|1"
  arm MATCH AFTER ACTION [EVERY] -> "ok" (replaces the fault; the match counter restarts)
  disarm                         -> "ok" (relay only)
  stall SECONDS                  -> "ok" (stall every connection now; 0: until resume)
  resume                         -> "ok" (end a stall)
Counting: `commands` counts every request parsed (Redis commands; Postgres Query, Execute and
Sync messages), `matched` the ones that matched since the fault was armed, `faults` the faults
fired. Redis pub/sub and MONITOR (replies without requests) are not supported.
"""

import argparse
import os
import selectors
import signal
import socket
import struct
import sys
import time

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102


def log(msg):
    sys.stderr.write("faultproxy: %s\n" % msg)
    sys.stderr.flush()


# ---- Redis (RESP) -------------------------------------------------------------------------


def resp_end(buf, pos):
    """Returns the index just past one complete RESP value starting at pos, or None."""
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        return None
    kind = buf[pos : pos + 1]
    head = buf[pos + 1 : nl]
    nxt = nl + 2
    if kind in (b"$", b"=", b"!"):  # bulk string, verbatim, bulk error
        n = int(head)
        if n < 0:
            return nxt
        return nxt + n + 2 if len(buf) >= nxt + n + 2 else None
    if kind in (b"*", b"~", b">", b"%", b"|"):  # array, set, push, map, attribute
        n = int(head)
        if kind in (b"%", b"|"):
            n *= 2
        for _ in range(max(n, 0)):
            nxt = resp_end(buf, nxt)
            if nxt is None:
                return None
        return nxt
    return nxt  # + - : _ # , ( : one line


def redis_request(buf, pos):
    """One request at buf[pos:]: (end index, command name) or None when incomplete."""
    if pos >= len(buf):
        return None
    if buf[pos : pos + 1] == b"*":
        end = resp_end(buf, pos)
        if end is None:
            return None
        nl = buf.find(b"\r\n", pos)
        name = b""
        if int(buf[pos + 1 : nl]) > 0:  # first element: $len\r\nNAME\r\n
            nl2 = buf.find(b"\r\n", nl + 2)
            n = int(buf[nl + 3 : nl2])
            name = bytes(buf[nl2 + 2 : nl2 + 2 + n])
        return end, name.upper().decode("latin-1")
    nl = buf.find(b"\n", pos)  # an inline command
    if nl < 0:
        return None
    words = bytes(buf[pos:nl]).split()
    return nl + 1, (words[0].upper().decode("latin-1") if words else "")


# ---- Postgres ----------------------------------------------------------------------------


def cstr(body, pos):
    end = body.index(b"\x00", pos)
    return body[pos:end].decode("utf-8", "replace"), end + 1


class PgState:
    """What the client parser knows: untyped startup messages still expected, prepared
    statements (name -> SQL) and portals (name -> SQL), for matching an Execute by its SQL."""

    def __init__(self):
        self.startup = True
        self.stmts = {}
        self.portals = {}
        self.pending_single_byte = 0  # server answers to SSLRequest/GSSENCRequest


def pg_request(st, buf, pos):
    """One frontend message at buf[pos:]: (end index, kind, statement name, sql) or None.
    kind: 'Q' (Query), 'E' (Execute), 'S' (Sync), 'startup' (a StartupMessage: the server
    answers it with one ReadyForQuery), '' for the rest."""
    have = len(buf) - pos
    if st.startup:
        if have < 8:
            return None
        n, code = struct.unpack_from("!ii", buf, pos)
        if have < n:
            return None
        kind = ""
        if code in (SSL_REQUEST, GSSENC_REQUEST):
            st.pending_single_byte += 1
        elif code != CANCEL_REQUEST:
            st.startup = False  # typed messages follow
            kind = "startup"
        return pos + n, kind, "", ""
    if have < 5:
        return None
    t = buf[pos : pos + 1]
    n = struct.unpack_from("!i", buf, pos + 1)[0]
    if have < 1 + n:
        return None
    end = pos + 1 + n
    body = bytes(buf[pos + 5 : end])
    if t == b"Q":
        return end, "Q", "", cstr(body, 0)[0]
    if t == b"P":
        name, p = cstr(body, 0)
        st.stmts[name] = cstr(body, p)[0]
    elif t == b"B":
        portal, p = cstr(body, 0)
        stmt = cstr(body, p)[0]
        st.portals[portal] = (stmt, st.stmts.get(stmt, ""))
    elif t == b"C" and body[:1] == b"S":  # Close statement
        st.stmts.pop(cstr(body, 1)[0], None)
    elif t == b"E":
        stmt, sql = st.portals.get(cstr(body, 0)[0], ("", ""))
        return end, "E", stmt, sql
    elif t == b"S":
        return end, "S", "", ""
    return end, "", "", ""


def pg_reply(st, buf, pos):
    """One backend message at buf[pos:]: (end index, is ReadyForQuery) or None."""
    have = len(buf) - pos
    if st.pending_single_byte:
        if have < 1:
            return None
        st.pending_single_byte -= 1
        return pos + 1, False
    if have < 5:
        return None
    n = struct.unpack_from("!i", buf, pos + 1)[0]
    if have < 1 + n:
        return None
    return pos + 1 + n, buf[pos : pos + 1] == b"Z"


# ---- the proxy -------------------------------------------------------------------------------


class Fault:
    def __init__(self, match=None, after=1, action="reset", every=0):
        self.match = match.upper() if match else None
        self.after = max(int(after), 1)
        self.action = action
        self.every = max(int(every), 0)
        self.matched = 0

    def fires(self):
        """Counts one match; True when this match is one the fault fires on."""
        self.matched += 1
        k = self.matched - self.after
        return k == 0 or (k > 0 and self.every > 0 and k % self.every == 0)


class Conn:
    def __init__(self, proxy, cs, ss):
        self.proxy, self.cs, self.ss = proxy, cs, ss
        self.c_in = bytearray()  # client bytes not yet forwarded
        self.s_in = bytearray()  # server bytes not yet relayed
        self.to_server = bytearray()
        self.to_client = bytearray()
        self.requests = 0  # requests (redis) or sync points (postgres) forwarded
        self.replies = 0  # replies (redis) or ReadyForQuery (postgres) received
        self.reset_at = 0  # reset when reply number reset_at arrives (0: no fault pending)
        self.s_parsed = 0  # bytes at the front of s_in parsed but held for a pending fault
        self.pg = PgState()
        self.closed = False
        self.c_eof = self.s_eof = self.shut_server = False

    def is_match(self, kind, name, sql):
        f = self.proxy.fault
        if f is None or f.match is None:
            return False
        if self.proxy.proto == "redis":
            return f.match in ("ANY", name)
        if f.match == "SYNC":
            return kind == "S"
        if kind not in ("Q", "E"):
            return False
        return f.match == "ANY" or f.match in sql.upper() or f.match == name.upper()

    def take_client(self):
        """Moves complete requests from c_in to to_server; after a matched request, stops at
        its sync point (the request itself for Redis and Query, the next Sync for Execute)."""
        redis = self.proxy.proto == "redis"
        pos = 0
        while not self.proxy.stalled():
            if self.reset_at and self.requests >= self.reset_at:
                break  # hold everything after the fault's sync point
            r = redis_request(self.c_in, pos) if redis else pg_request(self.pg, self.c_in, pos)
            if r is None:
                break
            if redis:
                end, name = r
                kind, sql, sync = "", "", True
            else:
                end, kind, name, sql = r
                sync = kind in ("Q", "S", "startup")
            self.to_server += self.c_in[pos:end]
            pos = end
            if redis or kind in ("Q", "E", "S"):
                self.proxy.commands += 1
            if sync:
                self.requests += 1
            if self.reset_at or not self.is_match(kind, name, sql):
                continue
            if not self.proxy.fault.fires():
                continue
            self.proxy.faults += 1
            what = "%s #%d" % (name or kind, self.proxy.fault.matched)
            if self.proxy.fault.action == "stall":
                log("stall after %s" % what)
                self.proxy.stall(self.proxy.stall_seconds)
                break
            log("reset after %s" % what)
            self.reset_at = self.requests if sync else self.requests + 1
        del self.c_in[:pos]

    def take_server(self):
        """Relays complete replies from s_in to to_client. With a fault pending, relays only
        through the reply before the fault's, holds the rest, and resets when the fault's
        reply (Redis: its reply; Postgres: the ReadyForQuery of its sync point) is complete."""
        redis = self.proxy.proto == "redis"
        pos, safe = self.s_parsed, 0
        while True:
            if redis:
                end = resp_end(self.s_in, pos) if pos < len(self.s_in) else None
                counts = end is not None and self.s_in[pos : pos + 1] != b">"
            else:
                r = pg_reply(self.pg, self.s_in, pos)
                end, counts = r if r else (None, False)
            if end is None:
                break
            if counts:
                if self.reset_at and self.replies + 1 == self.reset_at:
                    self.to_client += self.s_in[:safe]
                    self.reset()
                    return
                self.replies += 1
            pos = end
            if counts or not self.reset_at:
                safe = pos
        self.to_client += self.s_in[:safe]
        del self.s_in[:safe]
        self.s_parsed = pos - safe

    def reset(self):
        # what was relayed before the lost reply still reaches the client (a short try)
        try:
            self.cs.setblocking(True)
            self.cs.settimeout(1.0)
            self.cs.sendall(self.to_client)
        except OSError:
            pass
        self.close(rst=True)

    def close(self, rst=False):
        if self.closed:
            return
        self.closed = True
        for s in (self.cs, self.ss):
            try:
                self.proxy.sel.unregister(s)
            except (KeyError, ValueError):
                pass
            if rst:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            s.close()
        self.proxy.conns.discard(self)

    def pump(self):
        """One round of non-blocking I/O on both sockets."""
        stalled = self.proxy.stalled()
        for src, buf in ((self.cs, self.c_in), (self.ss, self.s_in)):
            if stalled or (src is self.cs and self.c_eof) or (src is self.ss and self.s_eof):
                continue
            try:
                data = src.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                self.close()
                return
            if data:
                buf += data
                continue
            # an orderly close (FIN): stop reading that side, pass the close on once drained
            if src is self.cs:
                self.c_eof = True
            else:
                self.s_eof = True
            try:
                self.proxy.sel.unregister(src)
            except (KeyError, ValueError):
                pass
        self.round(stalled)

    def round(self, stalled=False):
        if not stalled:
            self.take_client()
            self.take_server()
        if self.closed:
            return
        self.flush(stalled)
        if self.s_eof and not self.to_client:
            self.close()  # the server is gone: the client sees the close
        elif self.c_eof and not self.to_server and not self.shut_server:
            self.shut_server = True
            try:
                self.ss.shutdown(socket.SHUT_WR)  # the server sees the half-close
            except OSError:
                pass

    def flush(self, stalled=False):
        pairs = [(self.ss, self.to_server)]
        if not stalled:
            pairs.append((self.cs, self.to_client))
        for dst, buf in pairs:
            while buf:
                try:
                    k = dst.send(buf)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    buf.clear()
                    break
                del buf[:k]


class Proxy:
    def __init__(self, args):
        self.target = args.target.rsplit(":", 1)
        self.target = (self.target[0], int(self.target[1]))
        self.proto = args.proto
        self.stall_seconds = args.stall_seconds
        self.fault = Fault(args.match, args.after, args.action, args.every) if args.match else None
        self.commands = self.faults = self.connections = 0
        self.stall_until = 0.0
        self.sel = selectors.DefaultSelector()
        self.conns = set()
        self.ctl_clients = {}

    def stall(self, seconds):
        self.stall_until = float("inf") if float(seconds) <= 0 else time.monotonic() + float(seconds)

    def stalled(self):
        return time.monotonic() < self.stall_until

    def listen(self, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(128)
        s.setblocking(False)
        return s

    def accept(self, lsock):
        cs, _ = lsock.accept()
        try:
            ss = socket.create_connection(self.target, timeout=5)
        except OSError as e:
            log("connect to %s:%d failed: %s" % (self.target[0], self.target[1], e))
            cs.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            cs.close()
            return
        for s in (cs, ss):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = Conn(self, cs, ss)
        self.conns.add(c)
        self.connections += 1
        self.sel.register(cs, selectors.EVENT_READ, ("conn", c))
        self.sel.register(ss, selectors.EVENT_READ, ("conn", c))

    def control(self, sock):
        try:
            data = sock.recv(4096)
        except OSError:
            data = b""
        if not data:
            self.sel.unregister(sock)
            self.ctl_clients.pop(sock, None)
            sock.close()
            return
        buf = self.ctl_clients[sock] + data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            reply = self.command(line.decode("utf-8", "replace").split())
            sock.sendall((reply + "\n").encode())
        self.ctl_clients[sock] = buf

    def command(self, words):
        try:
            if not words:
                return "error: empty command"
            op = words[0].lower()
            if op == "stats":
                return "commands=%d matched=%d faults=%d connections=%d stalled=%d" % (
                    self.commands,
                    self.fault.matched if self.fault else 0,
                    self.faults,
                    self.connections,
                    1 if self.stalled() else 0,
                )
            if op == "arm" and len(words) in (4, 5) and words[3] in ("reset", "stall"):
                self.fault = Fault(words[1], words[2], words[3], words[4] if len(words) > 4 else 0)
                return "ok"
            if op == "disarm":
                self.fault = None
                return "ok"
            if op == "stall" and len(words) == 2:
                self.stall(words[1])
                return "ok"
            if op == "resume":
                self.stall_until = 0.0
                return "ok"
            return "error: unknown command (stats, arm, disarm, stall, resume)"
        except ValueError as e:
            return "error: %s" % e

    def guard(self, step):
        """Runs one connection step; bytes that are not the protocol end that connection."""
        try:
            step()
        except (ValueError, IndexError, struct.error) as e:
            conn = step.__self__
            log("unparsable %s traffic (%s): connection reset" % (self.proto, e))
            conn.close(rst=True)

    def run(self, port):
        lsock = self.listen(port)
        csock = self.listen(0)
        self.sel.register(lsock, selectors.EVENT_READ, ("listen", None))
        self.sel.register(csock, selectors.EVENT_READ, ("ctl-listen", None))
        sys.stdout.write("%d\n%d\n" % (lsock.getsockname()[1], csock.getsockname()[1]))
        sys.stdout.flush()
        while True:
            # while stalled, sockets stay readable: poll instead of spinning on them; output
            # a peer is slow to take is retried soon
            busy = any(c.to_server or c.to_client for c in self.conns)
            timeout = 0.02 if busy or self.stalled() else 1.0
            events = self.sel.select(timeout)
            for key, _ in events:
                kind, obj = key.data
                if kind == "listen":
                    self.accept(key.fileobj)
                elif kind == "ctl-listen":
                    s, _ = key.fileobj.accept()
                    self.ctl_clients[s] = b""
                    self.sel.register(s, selectors.EVENT_READ, ("ctl", None))
                elif kind == "ctl":
                    self.control(key.fileobj)
                elif not self.stalled() and not obj.closed:
                    self.guard(obj.pump)
            if self.stalled():
                time.sleep(0.02)
            else:
                # a stall just ended, or output waits: give every pair a round
                for c in list(self.conns):
                    self.guard(c.round)


def main():
    p = argparse.ArgumentParser(description="fault-injecting TCP proxy for tests")
    p.add_argument("--target", required=True, help="HOST:PORT to forward to")
    p.add_argument("--proto", choices=("redis", "postgres"), required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--match")
    p.add_argument("--after", type=int, default=1)
    p.add_argument("--every", type=int, default=0)
    p.add_argument("--action", choices=("reset", "stall"), default="reset")
    p.add_argument("--stall-seconds", type=float, default=5.0)
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    Proxy(args).run(args.port)


if __name__ == "__main__":
    main()
