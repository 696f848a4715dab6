"""Readiness check of the agent-runner image: ready iff the runner is connected to Temporal.

The image's HEALTHCHECK (and its io.stigmer.healthcheck label) runs this file with the image's
own Python. It needs nothing from the runner: no heartbeat, no port, no import of its code.

Ready means: one of the container's own processes (this check excluded) holds an ESTABLISHED
TCP connection to the Temporal frontend it was given in TEMPORAL_SERVICE_ADDRESS (default
localhost:7233), resolved here, inside the container, so host.docker.internal and
host.containers.internal resolve as the runner resolves them.

Only sockets that the container's processes hold count (their /proc/<pid>/fd links). With host
networking /proc/net/tcp lists every connection on the host, so a Temporal client running
elsewhere on the host cannot make the runner look ready.

A heartbeat file stays optional: if the runner writes one (STIGMER_READY_FILE, default
/tmp/agent-runner.ready), it must also be fresh (under 30 s old).

Prints one line either way, and exits 0 (ready) or 1 (not ready):
    ready: connected to 127.0.0.1:7233
    not ready: no connection to localhost:7233 (127.0.0.1:7233)

Python standard library only; see docs/docker.md, "Readiness".
"""

import ipaddress
import os
import socket
import sys
import time

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_PORT = 7233
DEFAULT_READY_FILE = "/tmp/agent-runner.ready"
HEARTBEAT_MAX_AGE = 30
ESTABLISHED = "01"


def split_address(address):
    """host:port, [v6]:port, v6 alone or host alone (port 7233)."""
    address = address.strip()
    for prefix in ("dns:///", "http://", "https://"):
        if address.startswith(prefix):
            address = address[len(prefix):]
    address = address.rstrip("/")
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif address.count(":") == 1:
        host, port = address.split(":")
    else:
        host, port = address, ""
    return host, int(port) if port else DEFAULT_PORT


def resolve(host, port):
    """Every address the name resolves to here, as ip_address objects (IPv4 also as mapped IPv6)."""
    found = set()
    for family, _, _, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        ip = ipaddress.ip_address(sockaddr[0].split("%")[0])
        found.add(ip)
        if ip.version == 4:
            found.add(ipaddress.IPv6Address("::ffff:" + str(ip)))
        elif ip.ipv4_mapped is not None:
            found.add(ip.ipv4_mapped)
    return found


def held_socket_inodes():
    """Inodes of the sockets that the container's processes hold, this check excluded."""
    me = os.getpid()
    inodes = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        fd_dir = "/proc/%s/fd" % entry
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd_dir + "/" + fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def decode(hex_address):
    """'0100007F:1C31' (tcp) or 32 hex digits + port (tcp6) -> (ip_address, port)."""
    ip_hex, port_hex = hex_address.split(":")
    raw = bytes.fromhex(ip_hex)
    # The kernel prints each 32-bit word in host order (little-endian here).
    words = [raw[i:i + 4][::-1] for i in range(0, len(raw), 4)]
    return ipaddress.ip_address(b"".join(words)), int(port_hex, 16)


def established_to(targets, port, inodes):
    """The first ESTABLISHED connection to one of targets:port held through one of inodes."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != ESTABLISHED or fields[9] not in inodes:
                continue
            ip, remote_port = decode(fields[2])
            if remote_port == port and ip in targets:
                return ip
    return None


def show(ip):
    """127.0.0.1 for an IPv4 (or IPv4-mapped) address, [::1] for IPv6."""
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return "[%s]" % ip if ip.version == 6 else str(ip)


def heartbeat_problem():
    path = os.environ.get("STIGMER_READY_FILE") or DEFAULT_READY_FILE
    try:
        age = max(time.time() - os.stat(path).st_mtime, 0)
    except OSError:
        return None  # optional: a runner that writes none is judged by its connection alone
    if age >= HEARTBEAT_MAX_AGE:
        return "heartbeat %s is %ds old" % (path, age)
    return None


def main():
    address = os.environ.get("TEMPORAL_SERVICE_ADDRESS") or DEFAULT_ADDRESS
    try:
        host, port = split_address(address)
        targets = resolve(host, port)
    except (OSError, ValueError) as error:
        print("not ready: cannot resolve Temporal address %s (%s)" % (address, error))
        return 1
    ip = established_to(targets, port, held_socket_inodes())
    if ip is None:
        shown = ", ".join(sorted({show(t) for t in targets}))
        print("not ready: no connection to %s (%s port %d)" % (address, shown, port))
        return 1
    where = show(ip)
    problem = heartbeat_problem()
    if problem:
        print("not ready: connected to %s:%d but %s" % (where, port, problem))
        return 1
    print("ready: connected to %s:%d" % (where, port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
