# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The iptables backend: read once (``iptables-save -t nat``), compare parsed rules, write once
(``iptables-restore --noflush -w``), touching only the agent's chain and its POSTROUTING jump.

No Ansible here: commands run through an injected ``runner(argv, data=None) -> (rc, stdout, stderr)`` and binaries
are found through an injected ``find(name) -> path``, so the modules (``run_command``/``get_bin_path``) and the host
program (``subprocess``/``shutil.which``) share every line of logic.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import ipaddress
import os
import re
import time

from .ipmasq_rules import NON_MASQ_COMMENT, chain_rules, jump_rule, quote

# Options each extension understands, so that a token stream such as
# "-j MASQUERADE --random-fully -p tcp -m statistic --mode random --probability 0.5 --to-ports 1-2"
# is split the way iptables' own option parser splits it.
_KNOWN_OPTS = {
    'comment': ('--comment',),
    'addrtype': ('--src-type', '--dst-type', '--limit-iface-in', '--limit-iface-out'),
    'statistic': ('--mode', '--probability', '--every', '--packet'),
    'MASQUERADE': ('--to-ports', '--random', '--random-fully'),
    'SNAT': ('--to-source', '--random', '--random-fully', '--persistent'),
}
_BASE_OPTS = {
    '-s': '-s', '--source': '-s', '--src': '-s',
    '-d': '-d', '--destination': '-d', '--dst': '-d',
    '-p': '-p', '--protocol': '-p',
    '-i': '-i', '--in-interface': '-i',
    '-o': '-o', '--out-interface': '-o',
    '-f': '-f', '--fragment': '-f',
}
_BASE_ORDER = ('-s', '-d', '-i', '-o', '-p', '-f')
_TARGET_OPT_ORDER = {'MASQUERADE': ('--to-ports', '--random', '--random-fully'),
                     'SNAT': ('--to-source', '--random', '--random-fully', '--persistent')}
_PROB_SCALE = 0x80000000


class IptablesError(Exception):
    """A failed iptables command, with everything fail_json wants."""

    def __init__(self, msg, cmd=None, rc=None, stdout='', stderr=''):
        super(IptablesError, self).__init__(msg)
        self.msg = msg
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr


# --- parsing iptables-save ---------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')
_UNESCAPE_RE = re.compile(r'\\(.)')


def split_line(line):
    """Split an iptables-save line into tokens: double-quoted strings with backslash escapes, else whitespace.

    The quoting iptables-save writes (it escapes only quotes and backslashes), several times faster than shlex.
    """
    if '"' not in line:
        return line.split()
    out = []
    for quoted, bare in _TOKEN_RE.findall(line):
        out.append(_UNESCAPE_RE.sub(r'\1', quoted) if bare == '' else bare)
    return out


class Entry(object):
    """One ``-A`` line of iptables-save: its chain and the line as printed; tokens and parse on demand."""

    __slots__ = ('chain', 'line', '_tokens', '_parsed')

    def __init__(self, chain, line):
        self.chain = chain
        self.line = line
        self._tokens = None
        self._parsed = None

    @property
    def tokens(self):
        if self._tokens is None:
            self._tokens = split_line(self.line)[2:]
        return self._tokens

    @property
    def parsed(self):
        if self._parsed is None:
            self._parsed = parse_rule(self.tokens)
        return self._parsed

    @property
    def target(self):
        # cheap for the common case; the full parse only when the line mentions a jump
        if ' -j ' not in self.line and ' -g ' not in self.line and ' --jump ' not in self.line \
                and ' --goto ' not in self.line:
            return None
        return self.parsed['target']


class NatTable(object):
    def __init__(self):
        self.chains = {}  # name -> policy line as printed
        self.chain_order = []
        self.entries = []
        self._by_chain = None

    def rules(self, chain):
        if self._by_chain is None:
            self._by_chain = {}
            for e in self.entries:
                self._by_chain.setdefault(e.chain, []).append(e)
        return self._by_chain.get(chain, [])

    def has_chain(self, chain):
        return chain in self.chains


def parse_save(text):
    """Parse ``iptables-save -t nat`` output (with or without ``-c``)."""
    table = NatTable()
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        if line.startswith('*'):
            current = line[1:]
            continue
        if current != 'nat':
            continue
        if line == 'COMMIT':
            current = None
            continue
        if line.startswith(':'):
            name = line[1:].split()[0]
            table.chains[name] = line
            table.chain_order.append(name)
            continue
        if line.startswith('['):  # counters from -c
            line = line.split(']', 1)[1].strip()
        if line.startswith('-A '):
            parts = line.split(None, 2)
            if len(parts) >= 2:
                table.entries.append(Entry(parts[1], line))
    return table


def parse_rule(tokens):
    """Split a rule's tokens into base matches, match modules, target and target options."""
    base = []
    modules = []
    target = None
    target_opts = []
    section = None  # list of options of the current -m module or target
    section_name = None
    neg = False
    i = 0
    n = len(tokens)

    def values_from(j):
        vals = []
        while j < n and tokens[j] != '!' and not (tokens[j].startswith('-') and len(tokens[j]) > 1
                                                  and not _is_number(tokens[j])):
            vals.append(tokens[j])
            j += 1
        return vals, j

    while i < n:
        tok = tokens[i]
        if tok == '!':
            neg = True
            i += 1
            continue
        if tok in ('-m', '--match') and i + 1 < n:
            section_name = tokens[i + 1]
            section = []
            modules.append((section_name, section))
            i += 2
            neg = False
            continue
        if tok in ('-j', '--jump', '-g', '--goto') and i + 1 < n:
            target = ('goto:' if tok in ('-g', '--goto') else '') + tokens[i + 1]
            section_name = tokens[i + 1]
            section = target_opts
            i += 2
            neg = False
            continue
        if tok in _BASE_OPTS:
            vals, j = values_from(i + 1)
            base.append((neg, _BASE_OPTS[tok], tuple(vals)))
            i = j
            neg = False
            continue
        vals, j = values_from(i + 1)
        owner = section
        # Attribute the option to the most recent extension that knows it (as iptables' parser does).
        for name, opts in reversed(list(modules) + ([(target, target_opts)] if target else [])):
            if tok in _KNOWN_OPTS.get(name.replace('goto:', ''), ()):
                owner = opts
                break
        if owner is None:
            owner = base
        owner.append((neg, tok, tuple(vals)))
        i = j
        neg = False
    return {'base': base, 'modules': modules, 'target': target, 'target_opts': target_opts}


def _is_number(tok):
    return re.match(r'^-[0-9.]+$', tok) is not None


_CANON_V4_RE = re.compile(r'^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}'
                          r'(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])/(?:3[0-2]|[12]?[0-9])$')


def norm_cidr(value):
    """An address or CIDR as iptables-save prints it (``10.0.0.0/8``, ``fd00::/8``, ``10.1.2.3/32``)."""
    if _CANON_V4_RE.match(value):
        # Already canonical unless host bits are set (iptables-save prints the network): check cheaply.
        addr, bits = value.split('/')
        n = 0
        for part in addr.split('.'):
            n = (n << 8) | int(part)
        if n & ((1 << (32 - int(bits))) - 1) == 0:
            return value
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        return value


def _norm_value(opt, vals):
    if opt in ('-s', '-d'):
        return tuple(norm_cidr(v) for v in vals)
    if opt == '-p':
        return tuple(v.lower() for v in vals)
    if opt == '--probability':
        try:
            return tuple(str(int(round(float(v) * _PROB_SCALE))) for v in vals)
        except ValueError:
            return tuple(vals)
    return tuple(vals)


def canonical(tokens):
    """A comparable form of a rule: iptables-save reorders matches and rewrites some values."""
    p = parse_rule(tokens) if isinstance(tokens, list) else tokens
    base = tuple(sorted((neg, opt, _norm_value(opt, vals)) for neg, opt, vals in p['base']))
    mods = tuple((name, tuple(sorted((neg, opt, _norm_value(opt, vals)) for neg, opt, vals in opts)))
                 for name, opts in p['modules'])
    tgt = tuple(sorted((neg, opt, _norm_value(opt, vals)) for neg, opt, vals in p['target_opts']))
    return (base, mods, p['target'], tgt)


def _fmt_opts(opts):
    out = []
    for neg, opt, vals in opts:
        if neg:
            out.append('!')
        out.append(opt)
        for v in vals:
            if opt == '--probability':
                v = '%.11f' % (int(round(float(v) * _PROB_SCALE)) / float(_PROB_SCALE))
            out.append(quote(v))
    return out


def save_text(chain, tokens):
    """One rule as iptables-save prints it (matches reordered, values rewritten), for diffs and predictions."""
    p = parse_rule(tokens)
    out = ['-A', chain]
    base = sorted(p['base'], key=lambda b: _BASE_ORDER.index(b[1]) if b[1] in _BASE_ORDER else 99)
    for neg, opt, vals in base:
        if neg:
            out.append('!')
        out.append(opt)
        for v in _norm_value(opt, vals) if opt in ('-s', '-d') else vals:
            if opt in ('-s', '-d') and '/' not in v:
                v += '/32'
            out.append(quote(v))
    for name, opts in p['modules']:
        out += ['-m', name] + _fmt_opts(opts)
    if p['target']:
        out += ['-j', p['target']]
        order = _TARGET_OPT_ORDER.get(p['target'], ())
        topts = sorted(p['target_opts'], key=lambda o: order.index(o[1]) if o[1] in order else 99)
        out += _fmt_opts(topts)
    return ' '.join(out)


# --- planning ----------------------------------------------------------------------------------------------------

_RETURN_SHAPE = ['-m', 'comment', '--comment', NON_MASQ_COMMENT, '-d']
_RETURN_SAVE = '-A %%s -d %%s -m comment --comment %s -j RETURN' % quote(NON_MASQ_COMMENT)


class Plan(object):
    """What one family needs: the restore payload (None when in sync) and before/after as iptables-save lines."""

    def __init__(self, family, chain):
        self.family = family
        self.chain = chain
        self.payload = None
        self.actions = []
        self.before = []
        self.after = []

    @property
    def changed(self):
        return self.payload is not None

    def to_dict(self):
        return {'family': self.family, 'chain': self.chain, 'changed': self.changed, 'actions': list(self.actions),
                'before': list(self.before), 'after': list(self.after)}


def _jumps(table, chain):
    return [e for e in table.rules('POSTROUTING') if e.target == chain]


def _current_lines(table, chain):
    """The agent's lines in iptables-save order: chain declaration, POSTROUTING jumps, the chain's rules."""
    lines = [':%s - [0:0]' % chain] if table.has_chain(chain) else []
    lines.extend(e.line for e in _jumps(table, chain))
    lines.extend(e.line for e in table.rules(chain))
    return lines


def desired_lines(chain, rules):
    """The agent's lines as iptables-save will print them once in sync: chain declaration, jump, rules."""
    out = [':%s - [0:0]' % chain, save_text('POSTROUTING', jump_rule(chain))]
    for r in rules:
        if len(r) == 8 and r[:5] == _RETURN_SHAPE and r[6:] == ['-j', 'RETURN']:
            # the non-masquerade RETURN rule, thousands of times in large lists: format it directly
            out.append(_RETURN_SAVE % (chain, norm_cidr(r[5])))
        else:
            out.append(save_text(chain, r))
    return out


def plan_present(table, cfg, options, family):
    """Compare the live nat table with the desired chain and jump; build the one payload that fixes both."""
    chain = options.masq_chain
    rules = chain_rules(cfg, options, family)
    plan = Plan(family, chain)
    plan.before = _current_lines(table, chain)
    plan.after = desired_lines(chain, rules)
    lines = []
    live_entries = table.rules(chain)
    # Fast path: the live lines are exactly what iptables-save prints for the desired rules. Otherwise compare parsed
    # rules (another iptables version may print the same rules differently).
    same = table.has_chain(chain) and [e.line for e in live_entries] == plan.after[2:]
    if not same and table.has_chain(chain):
        same = [canonical(e.parsed) for e in live_entries] == [canonical(r) for r in rules]
    if not table.has_chain(chain):
        plan.actions.append('create chain %s' % chain)
    elif not same:
        plan.actions.append('rewrite chain %s (%d rules -> %d rules)' % (chain, len(live_entries), len(rules)))
    if not same:
        # With --noflush, the chain line flushes and rebuilds this chain only, atomically with its rules.
        lines.append(':%s - [0:0]' % chain)
        lines.extend(' '.join(['-A', chain] + [quote(t) for t in r]) for r in rules)

    jump = jump_rule(chain)
    want_jump = canonical(jump)
    jumps = _jumps(table, chain)
    good = [e for e in jumps if canonical(e.parsed) == want_jump]
    other = [e for e in jumps if canonical(e.parsed) != want_jump]
    first = getattr(cfg, 'jump_position', 'append') == 'first'
    postrouting = table.rules('POSTROUTING')
    if first and good and postrouting[0] is not good[0]:
        # jumpPosition: first, but something else runs before our jump: move it to the top.
        lines.append('-D ' + good[0].line[3:])
        good = []
        plan.actions.append('move POSTROUTING jump to %s to position 1' % chain)
    if not good:
        if first:
            lines.append(' '.join(['-I', 'POSTROUTING', '1'] + [quote(t) for t in jump]))
            plan.actions.append('insert POSTROUTING jump to %s at position 1' % chain)
        else:
            lines.append(' '.join(['-A', 'POSTROUTING'] + [quote(t) for t in jump]))
            plan.actions.append('append POSTROUTING jump to %s' % chain)
    for e in good[1:]:
        lines.append('-D ' + e.line[3:])
        plan.actions.append('delete duplicate POSTROUTING jump to %s' % chain)
    for e in other:
        lines.append('-D ' + e.line[3:])
        plan.actions.append('replace POSTROUTING jump to %s: %s' % (chain, e.line))
    if lines:
        plan.payload = '*nat\n' + '\n'.join(lines) + '\nCOMMIT\n'
    return plan


def plan_absent(table, chain, family):
    """Remove the chain and every POSTROUTING jump to it; nothing else. Refuse if another rule still uses it."""
    plan = Plan(family, chain)
    plan.before = _current_lines(table, chain)
    users = [e for e in table.entries if e.target in (chain, 'goto:' + chain) and e.chain != 'POSTROUTING']
    if users:
        raise IptablesError('%s: chain %s is still referenced by rules outside POSTROUTING (%s); remove them first'
                            % (family, chain, '; '.join(e.line for e in users)))
    lines = []
    for e in _jumps(table, chain):
        lines.append('-D ' + e.line[3:])
        plan.actions.append('delete POSTROUTING jump to %s' % chain)
    if table.has_chain(chain):
        lines += ['-F %s' % chain, '-X %s' % chain]
        plan.actions.append('delete chain %s' % chain)
    if lines:
        plan.payload = '*nat\n' + '\n'.join(lines) + '\nCOMMIT\n'
    return plan


def drift(plan):
    """Human-readable differences between live and desired lines (for ``status``)."""
    before, after = plan.before, plan.after
    out = []
    for line in before:
        if line not in after:
            out.append('- ' + line)
    for line in after:
        if line not in before:
            out.append('+ ' + line)
    if not out and plan.changed:
        out = ['~ ' + a for a in plan.actions]
    return out


# --- running commands --------------------------------------------------------------------------------------------

COMMANDS = {
    'ipv4': ('iptables', 'iptables-save', 'iptables-restore'),
    'ipv6': ('ip6tables', 'ip6tables-save', 'ip6tables-restore'),
}


class Backend(object):
    """Runs iptables-save / iptables-restore for one family through the injected runner."""

    def __init__(self, runner, find, family='ipv4', wait=10):
        self.runner = runner
        self.find = find
        self.family = family
        self.wait = wait
        self.bin, self.save_bin, self.restore_bin = (find(c) for c in COMMANDS[family])

    def _run(self, argv, data=None):
        rc, out, err = self.runner(argv, data)
        return rc, out, err

    def read(self):
        argv = [self.save_bin, '-t', 'nat']
        rc, out, err = self._run(argv)
        if rc != 0:
            if 'Table does not exist' in err or "can't initialize" in err:
                return parse_save('')  # legacy with no nat table loaded yet: the restore creates it
            raise IptablesError('%s: %s failed (rc=%s): %s' % (self.family, ' '.join(argv), rc, err.strip()),
                                cmd=argv, rc=rc, stdout=out, stderr=err)
        return parse_save(out)

    def write(self, payload):
        argv = [self.restore_bin, '--noflush', '-w', str(int(self.wait))]
        rc, out, err = self._run(argv, payload)
        if rc != 0:
            hint = ''
            if 'lock' in err.lower():
                hint = ' (the xtables lock was held by another process for more than %ss)' % self.wait
            raise IptablesError('%s: %s failed (rc=%s)%s; nothing was changed: %s'
                                % (self.family, ' '.join(argv), rc, hint, err.strip()),
                                cmd=argv, rc=rc, stdout=out, stderr=err)

    def supports_random_fully(self):
        rc, out, err = self._run([self.bin, '--version'])
        return rc == 0 and version_supports_random_fully(out + err)


def version_supports_random_fully(text):
    """``--random-fully`` needs iptables >= 1.6.2 (upstream's HasRandomFully)."""
    m = re.search(r'v(\d+)\.(\d+)\.(\d+)', text)
    return bool(m) and tuple(int(x) for x in m.groups()) >= (1, 6, 2)


def sync_family(backend, cfg, options, check_mode=False):
    """Read once, plan, and write once if anything differs. Returns the Plan."""
    plan = plan_present(backend.read(), cfg, options, backend.family)
    if plan.changed and not check_mode:
        backend.write(plan.payload)
    return plan


def remove_family(backend, chain, check_mode=False):
    plan = plan_absent(backend.read(), chain, backend.family)
    if plan.changed and not check_mode:
        backend.write(plan.payload)
    return plan


class HostLock(object):
    """An exclusive flock on a file, so that concurrent syncs (timer, path unit, Ansible) read and write in turn."""

    def __init__(self, path, timeout=30.0):
        self.path = path
        self.timeout = timeout
        self.fd = None

    def __enter__(self):
        import fcntl
        if not self.path:
            return self
        parent = os.path.dirname(self.path)
        if parent and not os.path.isdir(parent):
            return self  # no /run (e.g. a minimal chroot): nothing else can be running there either
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.time() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except (IOError, OSError) as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.time() >= deadline:
                    os.close(self.fd)
                    self.fd = None
                    raise IptablesError('another ip-masq-agent run held %s for more than %ss; nothing was changed'
                                        % (self.path, self.timeout))
                time.sleep(0.05)

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        return False
