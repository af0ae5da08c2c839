"""The lock manager: what Ganeti's WConfD did for locks, without a daemon.

The state is one file, locks.data, in Ganeti's own format
`[allocation, pending]`:

    allocation = [[owner, [[lock, "shared"|"exclusive"], ...]], ...]
    pending    = [[priority, owner, [[lock, mode], ...]], ...]
    owner      = [job id (int) or name (str), live-lock path, pid]

A pending entry may carry a fourth element, the N of an "at least N of these"
request. The pending list is kept in the order requests are served: by
priority (lower number first), then by arrival.

Every change happens under a file lock on locks.data.lock, the lock of
fasteners' InterProcessLock (a POSIX lockf lock on that file, so a program
using fasteners.InterProcessLock on it excludes us and we it): read the
file, decide, write it back. It is taken with the lockf call itself, and
waited for in the kernel (F_SETLKW) rather than by fasteners' sleep-and-retry
loop: importing fasteners costs about 20 ms, a third of a short operation's
CPU, and with many jobs at once nearly every one of them waits for it.
Reading alone (owned, monitor) takes no lock, because the file is only
ever replaced by a rename.

An owner is alive while it holds its live-lock file (livelock.py). Whoever
finds a request blocked checks the blockers' live-locks and drops the locks
and requests of dead ones; waiters also do so every POLL_INTERVAL seconds.

Ganeti's rules, as WConfD applies them:
  * levels in order: cluster, instance, nodegroup, node, node-res, network;
    within a level `level/[lockset]` (the whole level) comes first, then the
    members by name; a member implies its level's lockset (cluster/BGL
    implies cluster/[lockset]), so a lockset conflicts with every member
    another owner holds unless both are shared;
  * a request is granted entirely or not at all;
  * locks requested must sort after the highest lock already held, unless
    already held in a sufficient mode (directly or through their lockset);
    asking for a member exclusively while holding its lockset shared is an
    order violation;
  * a request already fulfilled is accepted at once.

Beyond WConfD: a new request also yields to the conflicting requests already
waiting ahead of it in line (higher priority, or same priority and earlier),
so a stream of shared requests cannot starve an exclusive waiter -- except
where a waiter ahead is itself waiting, directly or through others, for the
requester: then yielding would deadlock, and the request goes first.
"""

import fcntl
import os
import time
import _thread
try:
    import _signal as signal   # the signal module imports enum: ~3 ms per op
except ImportError:   # pragma: no cover
    import signal

from qganeti import errors, fastjson, fileio, livelock, paths

LEVELS = ("cluster", "instance", "nodegroup", "node", "node-res", "network")
LOCKSET = "[lockset]"
BGL = "cluster/BGL"
SHARED = "shared"
EXCLUSIVE = "exclusive"
MODES = (SHARED, EXCLUSIVE)

# A waiter re-checks this often even if nobody signals it (dead owners).
POLL_INTERVAL = 0.5

_LEVEL_INDEX = {level: i for i, level in enumerate(LEVELS)}
_GUARD_MUTEX = _thread.allocate_lock()   # file locks do not exclude threads
_KEYS = {}


class LockTimeout(errors.LockError):
    """A waiting request was given up after its timeout."""


class LockOrderError(errors.ProgrammerError):
    """A request that breaks Ganeti's lock order."""


# --- lock names ---------------------------------------------------------

def _key(name):
    """Sort key of a lock name in Ganeti's lock order; checks the name."""
    key = _KEYS.get(name)
    if key is None:
        level, sep, member = name.partition("/") if isinstance(name, str) else ("", "", "")
        index = _LEVEL_INDEX.get(level)
        if index is None or not member or (index == 0 and member not in ("BGL", LOCKSET)):
            raise errors.ProgrammerError("Unknown lock name '%s'" % (name,))
        key = (index, 0, "") if member == LOCKSET else (index, 1, member)
        if len(_KEYS) < 100000:
            _KEYS[name] = key
    return key


def check_name(name):
    """Raise errors.ProgrammerError unless NAME is a valid internal lock name."""
    _key(name)


def level_of(name):
    return LEVELS[_key(name)[0]]


def _group(name):
    """The lockset a member lock implies; None for a lockset."""
    index, member, _ = _key(name)
    return "%s/%s" % (LEVELS[index], LOCKSET) if member else None


def _compatible(mode1, mode2):
    return mode1 == SHARED and mode2 == SHARED


def _covers(held, wanted):
    """Whether holding a lock in mode HELD satisfies a request for WANTED."""
    return held == EXCLUSIVE or (held is not None and held == wanted)


def nice_key(name):
    """Ganeti's nice sort: digit runs compare as numbers, and before text."""
    key, digits, text = [], "", ""
    for char in name:
        if char.isdigit():
            if text:
                key.append((1, text))
                text = ""
            digits += char
        else:
            if digits:
                key.append((0, int(digits)))
                digits = ""
            text += char
    if digits:
        key.append((0, int(digits)))
    if text:
        key.append((1, text))
    return key


# --- owners -------------------------------------------------------------

class Owner:
    """A lock owner: Ganeti's clientId [ident, livelock path, pid]."""

    __slots__ = ("ident", "livelock_path", "pid")

    def __init__(self, ident, livelock_path, pid=None):
        if isinstance(ident, bool) or not isinstance(ident, (int, str)):
            raise errors.ProgrammerError("owner identifier must be a job id or a name: %r" % (ident,))
        self.ident = ident
        self.livelock_path = livelock_path
        self.pid = os.getpid() if pid is None else pid

    def key(self):
        return (self.ident, self.livelock_path, self.pid)

    def __eq__(self, other):
        return isinstance(other, Owner) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        return "Owner(%r, %r, %r)" % self.key()


def _owner_key(owner):
    if isinstance(owner, Owner):
        return owner.key()
    raise errors.ProgrammerError("not an Owner: %r" % (owner,))


def _owner_sort(okey):
    # Ganeti's order of clientIds: named owners, then jobs by number
    ident = okey[0]
    return (1, ident, "", okey[1], okey[2]) if isinstance(ident, int) else (0, 0, ident, okey[1], okey[2])


def format_ident(ident):
    """An owner as people read it: the job id, or the name."""
    return str(ident)


def parse_ident(text):
    """The owner identifier a command-line NAME stands for: digits are a job id."""
    return int(text) if text.isdigit() else text


# --- requests -----------------------------------------------------------

class _Request:
    """One request: locks with modes, for an owner, at a priority."""

    __slots__ = ("prio", "owner", "reqs", "at_least", "names", "members")

    def __init__(self, prio, owner, reqs, at_least=None):
        self.prio = prio
        self.owner = owner
        self.reqs = reqs            # [(name, mode)] in lock order
        self.at_least = at_least
        self.names = dict(reqs)
        self.members = {}           # lockset name -> strongest mode of its members asked for
        for name, mode in reqs:
            group = _group(name)
            if group is not None and self.members.get(group) != EXCLUSIVE:
                self.members[group] = mode

    def conflicts(self, name, mode):
        """Whether (NAME, MODE) conflicts with anything this request asks for."""
        other = self.names.get(name)
        if other is not None and not _compatible(mode, other):
            return True
        group = _group(name)
        other = self.members.get(name) if group is None else self.names.get(group)
        return other is not None and not _compatible(mode, other)

    def conflicts_with(self, request):
        return any(request.conflicts(name, mode) for name, mode in self.reqs)

    def to_json(self):
        entry = [self.prio, list(self.owner), [[n, m] for n, m in self.reqs]]
        if self.at_least is not None:
            entry.append(self.at_least)
        return entry


def _normalize(requests):
    """[(name, mode)] checked, duplicates merged, in lock order."""
    wanted = {}
    for item in requests:
        try:
            name, mode = item
        except (TypeError, ValueError):
            raise errors.ProgrammerError("malformed lock request: %r" % (item,)) from None
        _key(name)
        if mode not in MODES:
            raise errors.ProgrammerError("malformed request type: %r" % (mode,))
        if wanted.get(name, mode) != mode:
            raise errors.ProgrammerError("Inconsistent requests for lock %s" % name)
        wanted[name] = mode
    return sorted(wanted.items(), key=lambda item: _key(item[0]))


# --- the state ----------------------------------------------------------

def _load(text):
    """The state encoded in TEXT (locks.data).

    An empty or unreadable file counts as "no locks": locks.data is not
    fsync'd (see _save), so after a machine crash it may be empty or torn,
    and after a crash every owner it named is dead anyway.
    """
    state = _State()
    if not text:
        return state
    try:
        allocation, pending = fastjson.loads(text)[:2]
        for owner, held in allocation:
            state.held[tuple(owner)] = {name: mode for name, mode in held}
        for entry in pending:
            at_least = entry[3] if len(entry) > 3 else None
            state.pending.append(_Request(entry[0], tuple(entry[1]),
                                          _normalize(entry[2]), at_least))
    except (ValueError, TypeError, IndexError, errors.ProgrammerError):
        return _State()
    return state


class _State:
    def __init__(self):
        self.held = {}        # owner key -> {lock name: mode}
        self.pending = []     # _Request, in the order they are served
        self.changed = False
        self.granted = set()  # owners whose waiting requests were granted
        self._index = None

    def to_json(self):
        allocation = [[list(owner), [[n, m] for n, m in sorted(held.items(), key=lambda i: _key(i[0]))]]
                      for owner, held in sorted(self.held.items(), key=lambda i: _owner_sort(i[0]))
                      if held]
        return fastjson.dumps([allocation, [r.to_json() for r in self.pending]])

    # holders

    def _holders(self):
        """({lock: {owner: mode}}, {lockset: {owner: strongest member mode}})."""
        if self._index is None:
            direct, members = {}, {}
            for owner, held in self.held.items():
                for name, mode in held.items():
                    direct.setdefault(name, {})[owner] = mode
                    group = _group(name)
                    if group is not None:
                        byowner = members.setdefault(group, {})
                        if byowner.get(owner) != EXCLUSIVE:
                            byowner[owner] = mode
            self._index = (direct, members)
        return self._index

    def _touch(self):
        self._index = None
        self.changed = True

    def holding_blockers(self, owner, name, mode):
        """Other owners whose locks keep OWNER from having NAME in MODE."""
        direct, members = self._holders()
        out = set()
        for other, held in direct.get(name, {}).items():
            if other != owner and not _compatible(mode, held):
                out.add(other)
        group = _group(name)
        related = members.get(name, {}) if group is None else direct.get(group, {})
        for other, held in related.items():
            if other != owner and not _compatible(mode, held):
                out.add(other)
        return out

    # the wait-for graph

    def _graph(self):
        """Who waits for whom: ({owner: {owners}}, {owner: [requests it yields to]}).

        Built in serving order; a request yields to a conflicting one ahead
        of it only if that one cannot reach its owner through the graph so
        far, so the yields never close a cycle.
        """
        edges, yields = {}, {}
        for request in self.pending:
            blockers = set()
            for name, mode in request.reqs:
                blockers |= self.holding_blockers(request.owner, name, mode)
            edges[request.owner] = blockers
        for i, request in enumerate(self.pending):
            yields[request.owner] = self._yields(request, self.pending[:i], edges)
            edges[request.owner].update(ahead.owner for ahead in yields[request.owner])
        return edges, yields

    def _yields(self, request, ahead, edges):
        out = []
        for other in ahead:
            if (other.owner != request.owner and request.conflicts_with(other)
                    and not _reaches(edges, other.owner, request.owner)):
                out.append(other)
        return out

    def _order_violation(self, owner, name, mode, held):
        if held:
            highest = max(held, key=_key)
            if _key(name) < _key(highest):
                group = _group(name)
                if not (_covers(held.get(name), mode) or (group and _covers(held.get(group), mode))):
                    return "Order violation: requesting %s while holding %s" % (name, highest)
        if mode == EXCLUSIVE:
            group = _group(name)
            if group and held.get(group) == SHARED:
                return ("Order violation: requesting exclusively %s while holding a shared"
                        " lock on the group lock %s it belongs to." % (name, group))
        return None

    def _attempt(self, request, yields):
        """(whether REQUEST can go now, the locks to grant, {lock: blocking owners})."""
        owner = request.owner
        held = dict(self.held.get(owner, {}))
        blocked, grant = {}, []
        for name, mode in request.reqs:
            if request.at_least is not None:
                if _covers(held.get(name), mode):
                    continue
                if self._order_violation(owner, name, mode, held):
                    continue
            blockers = self.holding_blockers(owner, name, mode)
            blockers.update(other.owner for other in yields if other.conflicts(name, mode))
            if blockers:
                blocked[name] = blockers
            else:
                grant.append((name, mode))
                if request.at_least is not None:
                    held[name] = mode
        if request.at_least is None:
            return not blocked, grant, blocked
        if len(grant) >= request.at_least:
            return True, grant, blocked
        return False, [], blocked

    def _grant(self, owner, grant):
        if grant:
            self.held.setdefault(owner, {}).update(grant)
            self._touch()

    def grant_pending(self):
        """Serve the waiting requests that can go now, in order."""
        while self.pending:
            edges, yields = self._graph()
            for i, request in enumerate(self.pending):
                if request.at_least is None and edges[request.owner]:
                    continue
                ok, grant, _ = self._attempt(request, yields[request.owner])
                if ok:
                    del self.pending[i]
                    self._grant(request.owner, grant)
                    self._touch()
                    self.granted.add(request.owner)
                    break
            else:
                return

    def waiting(self, owner):
        return any(request.owner == owner for request in self.pending)

    def request(self, request, queue):
        """Try REQUEST now: ("granted", names) or ("blocked", {lock: owners}).

        With QUEUE, a blocked request joins the line ("queued", blockers).
        """
        owner = request.owner
        if self.waiting(owner):
            raise errors.LockError("cannot update locks while having pending requests")
        held = self.held.get(owner, {})
        if request.at_least is None:
            if all(held.get(name) == mode for name, mode in request.reqs):
                return "granted", [name for name, _ in request.reqs]
            for name, mode in request.reqs:
                problem = self._order_violation(owner, name, mode, held)
                if problem:
                    raise LockOrderError(problem)
        for attempt in (1, 2):
            place = len(self.pending)
            while place and self.pending[place - 1].prio > request.prio:
                place -= 1
            edges, _ = self._graph()
            ok, grant, blocked = self._attempt(request, self._yields(request, self.pending[:place], edges))
            if ok:
                self._grant(owner, grant)
                if self.pending:   # a downgrade may let waiters in
                    self.grant_pending()
                return "granted", [name for name, _ in grant]
            # blocked: owners that died since are dropped, then once more
            if attempt == 2 or not self.cleanup_dead():
                break
        if queue:
            self.pending.insert(place, request)
            self._touch()
            return "queued", blocked
        return "blocked", blocked

    def outcome(self, request, before):
        """For a waiter: ("waiting", None), ("granted", names) or ("cancelled", None).

        BEFORE is what the owner held when it joined the line.
        """
        if self.waiting(request.owner):
            return "waiting", None
        held = self.held.get(request.owner, {})
        if request.at_least is None:
            if all(held.get(name) == mode for name, mode in request.reqs):
                return "granted", [name for name, _ in request.reqs]
        else:
            got = [name for name, mode in request.reqs
                   if _covers(held.get(name), mode) and not _covers(before.get(name), mode)]
            if len(got) >= request.at_least:
                return "granted", got
        return "cancelled", None

    def drop_request(self, owner):
        before = len(self.pending)
        self.pending = [request for request in self.pending if request.owner != owner]
        if len(self.pending) != before:
            self._touch()

    def release(self, owner, names=None):
        held = self.held.get(owner)
        if names is None:
            self.drop_request(owner)
            if held:
                del self.held[owner]
                self._touch()
            return
        for name in names:
            _key(name)
            if held and held.pop(name, None) is not None:
                self._touch()
        if held is not None and not held:
            del self.held[owner]

    def release_owner(self, ident):
        freed = set()
        for owner in [o for o in self.held if o[0] == ident]:
            freed.update(self.held.pop(owner))
            self._touch()
        found = bool(freed) or any(request.owner[0] == ident for request in self.pending)
        for owner in {request.owner for request in self.pending if request.owner[0] == ident}:
            self.drop_request(owner)
        return found, sorted(freed, key=_key)

    def cleanup_dead(self):
        owners = set(self.held) | {request.owner for request in self.pending}
        dead = [owner for owner in owners if not livelock.is_alive(owner[1])]
        directory = paths.livelock_dir()
        for owner in dead:
            self.release(owner)
            # Ganeti removes a dead owner's live-lock file too; only ours, though
            if isinstance(owner[1], str) and os.path.dirname(owner[1]) == directory:
                try:
                    os.unlink(owner[1])
                except OSError:
                    pass
        if dead:
            self.grant_pending()
        return sorted({owner[0] for owner in dead}, key=lambda i: _owner_sort((i, "", 0)))


def _reaches(edges, start, target):
    """Whether TARGET can be reached from START in the wait-for graph EDGES."""
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        if node == target:
            return True
        for succ in edges.get(node, ()):
            if succ not in seen:
                seen.add(succ)
                todo.append(succ)
    return False


# --- reading and writing locks.data -------------------------------------

def _read():
    return _load(fileio.read_file(paths.locks_file()))


def _save(state):
    # Not fsync'd (durable=False): the rename keeps readers from ever seeing
    # a torn file, and durability would buy nothing -- a machine crash
    # kills every owner, so whatever the file held is void after a reboot
    # (_load reads an empty or torn file as "no locks"). That saves two
    # fsyncs on every lock operation.
    fileio.atomic_write(paths.locks_file(), state.to_json(), mode=0o640, durable=False)


def _notify(owners):
    """SIGHUP the waiters in OWNERS, unless their live-lock says they are gone.

    Called with the guard held, so a waiter giving up (which takes the guard
    to leave the line) still has its handler in place when the signal comes.
    """
    for owner in owners:
        pid = owner[2]
        if isinstance(pid, int) and pid > 0 and livelock.is_alive(owner[1]):
            try:
                os.kill(pid, signal.SIGHUP)
            except OSError:
                pass


class _Guard:
    """The lock of locks.data.lock, held: fasteners.InterProcessLock's lock."""

    def __init__(self, path):
        # opened as fasteners opens it (open(path, "a")), locked as it locks it
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                          0o666)
        try:
            fcntl.lockf(self.fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(self.fd)
            raise

    def release(self):
        try:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)


class _Guarded:
    """with _Guarded() as state: read, change and write locks.data under the file lock."""

    def __enter__(self):
        _GUARD_MUTEX.acquire()
        try:
            fileio.ensure_dir(paths.data_dir())
            self.lock = _Guard(paths.locks_file() + ".lock")
        except BaseException:
            _GUARD_MUTEX.release()
            raise
        try:
            self.state = _read()
        except BaseException:
            self.lock.release()
            _GUARD_MUTEX.release()
            raise
        return self.state

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None and self.state.changed:
                _save(self.state)
                _notify(self.state.granted)
        finally:
            self.lock.release()
            _GUARD_MUTEX.release()


# --- the API ------------------------------------------------------------

def _busy_error(blocked, request, cls=errors.LockError, prefix="Can't acquire locks"):
    """The error for a request that BLOCKED ({lock: owners}) keeps from being granted.

    err.blocked maps each blocked lock to the identifiers of its blockers.
    """
    def idents(owners):
        return sorted({owner[0] for owner in owners}, key=lambda i: _owner_sort((i, "", 0)))
    everybody = idents(owner for owners in blocked.values() for owner in owners)
    text = "%s %s" % (prefix, ", ".join(sorted(blocked, key=_key) or request.names))
    if request.at_least is not None:
        text += " (at least %d)" % request.at_least
    if everybody:
        text += ": blocked by %s" % ", ".join(format_ident(i) for i in everybody)
    err = cls(text)
    err.blocked = {name: idents(owners) for name, owners in blocked.items()}
    return err


def _noop(signum, frame):
    pass


def acquire(owner, requests, *, wait=False, timeout=None, at_least=None, priority=0):
    """Take REQUESTS ([(lock, "shared"|"exclusive")]) for OWNER; the names acquired.

    All or nothing, or at least AT_LEAST of them (the ones free now; locks
    already held do not count). Without WAIT, raise errors.LockError at once
    if the request cannot be granted. With WAIT, queue it (visible in the
    monitor) and sleep until a releaser grants it and sends SIGHUP, or until
    the next poll; raise LockTimeout after TIMEOUT seconds (None: never),
    leaving no queued request behind. Order violations raise LockOrderError.
    WAIT from a thread other than the main one needs SIGHUP handled or
    ignored by the process (the handler cannot be set from there).
    """
    okey = _owner_key(owner)
    reqs = _normalize(requests)
    if at_least is not None and (isinstance(at_least, bool) or not isinstance(at_least, int)
                                 or not 0 <= at_least <= len(reqs)):
        raise errors.ProgrammerError("at_least must be between 0 and the number of locks")
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise errors.ProgrammerError("priority must be an integer")
    request = _Request(priority, okey, reqs, at_least)
    if not wait or (timeout is not None and timeout <= 0):
        with _Guarded() as state:
            result, data = state.request(request, queue=False)
        if result == "granted":
            return data
        if wait:
            raise _busy_error(data, request, LockTimeout, "Timed out acquiring locks")
        raise _busy_error(data, request)
    deadline = None if timeout is None else time.monotonic() + max(timeout, 0)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    try:
        old_handler = signal.signal(signal.SIGHUP, _noop)
    except ValueError:   # not the main thread
        old_handler = None
    queued = False
    try:
        with _Guarded() as state:
            before = dict(state.held.get(okey, {}))
            result, data = state.request(request, queue=True)
        if result == "granted":
            return data
        queued = True
        while True:
            pause = POLL_INTERVAL
            if deadline is not None:
                pause = min(pause, deadline - time.monotonic())
            if pause > 0:
                signal.sigtimedwait([signal.SIGHUP], pause)
            with _Guarded() as state:
                result, names = state.outcome(request, before)
                if result == "waiting":
                    state.cleanup_dead()
                    state.grant_pending()
                    result, names = state.outcome(request, before)
                if result == "waiting" and deadline is not None and time.monotonic() >= deadline:
                    _, yields = state._graph()
                    _, _, blocked = state._attempt(request, yields[okey])
                    state.drop_request(okey)
                    state.grant_pending()
                    result = "timeout"
            if result != "waiting":
                queued = False
            if result == "granted":
                return names
            if result == "timeout":
                raise _busy_error(blocked, request, LockTimeout, "Timed out acquiring locks")
            if result == "cancelled":
                raise errors.LockError("The waiting lock request was cancelled")
    finally:
        if queued:   # interrupted while waiting: leave the line
            try:
                with _Guarded() as state:
                    if state.waiting(okey):
                        state.drop_request(okey)
                        state.grant_pending()
            except Exception:
                pass
        while signal.sigtimedwait([signal.SIGHUP], 0) is not None:
            pass
        if old_handler is not None:
            signal.signal(signal.SIGHUP, old_handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def release(owner, names=None):
    """Release NAMES (None: everything OWNER holds, and its waiting request)."""
    okey = _owner_key(owner)
    with _Guarded() as state:
        state.release(okey, None if names is None else list(names))
        if state.changed:
            state.grant_pending()


def owned(owner):
    """[(lock, mode)] that OWNER holds, in lock order (read without the file lock)."""
    held = _read().held.get(_owner_key(owner), {})
    return sorted(held.items(), key=lambda item: _key(item[0]))


def release_owner(ident):
    """Free all locks and the waiting request of every owner named IDENT.

    Returns the lock names freed, in lock order; None if IDENT neither held
    a lock nor waited for one.
    """
    with _Guarded() as state:
        found, freed = state.release_owner(ident)
        if state.changed:
            state.grant_pending()
    return freed if found else None


def cleanup_dead():
    """Drop the locks and requests of owners whose live-lock is dead; their idents."""
    with _Guarded() as state:
        return state.cleanup_dead()


def monitor():
    """Ganeti's lock monitor (QR_LOCK): rows [name, mode, owners, pending] by name.

    Every lock held, implied by a held member (its level's lockset) or
    waited for. mode: None, "shared" or "exclusive"; owners: the owners'
    identifiers JSON-encoded, as Ganeti sends them ("1219", '"name"');
    pending: [[mode, [identifier]]] for each waiting request naming the lock.
    """
    state = _read()
    direct, members = state._holders()
    names = set(direct) | set(members)
    for request in state.pending:
        names.update(request.names)
    rows = []
    for name in sorted(names, key=nice_key):
        holders = sorted(direct.get(name, {}).items(), key=lambda item: _owner_sort(item[0]))
        if not holders:
            mode = None
        elif any(held == EXCLUSIVE for _, held in holders):
            mode = EXCLUSIVE
        else:
            mode = SHARED
        pending = [[request.names[name], [fastjson.dumps(request.owner[0])]]
                   for request in state.pending if name in request.names]
        rows.append([name, mode, [fastjson.dumps(owner[0]) for owner, _ in holders], pending])
    return rows


def waiting():
    """[(ident, priority, [(lock, mode)])] of the queued requests, in serving order."""
    return [(request.owner[0], request.prio, list(request.reqs)) for request in _read().pending]


# --- names at the command line ------------------------------------------

_BY_UUID = {"node": "nodes", "node-res": "nodes", "nodegroup": "nodegroups", "network": "networks"}


def _name_maps(config):
    if config is None:
        text = fileio.read_file(paths.config_file())
        try:
            config = fastjson.loads(text) if text else {}
        except ValueError:
            config = {}
    to_uuid, to_name = {}, {}
    for key in set(_BY_UUID.values()):
        objects = config.get(key) if isinstance(config, dict) else None
        if not isinstance(objects, dict):
            continue
        for uuid, obj in objects.items():
            name = obj.get("name") if isinstance(obj, dict) else None
            if isinstance(name, str):
                to_uuid[(key, name)] = uuid
                to_name[(key, uuid)] = name
    return to_uuid, to_name


def _translate(names, config, forward):
    maps = _name_maps(config)[0 if forward else 1]
    out = []
    for name in names:
        level, sep, member = name.partition("/")
        key = _BY_UUID.get(level)
        if key and sep and member != LOCKSET:
            member = maps.get((key, member), member)
            name = "%s/%s" % (level, member)
        out.append(name)
    return out


def internal_names(names, config=None):
    """Lock names as people write them (node/node1.example.com) -> Ganeti's (node/<uuid>).

    Nodes, node-res, nodegroups and networks are named by UUID inside, found
    in CONFIG (config.data as a dict; None: read $QGANETI_ROOT's); instance
    locks keep the instance name. Names not in the config, or no config,
    pass through unchanged.
    """
    return _translate(names, config, True)


def display_names(names, config=None):
    """The reverse of internal_names: UUIDs back to object names where known."""
    return _translate(names, config, False)
