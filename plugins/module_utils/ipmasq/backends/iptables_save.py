# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small typed model of ``iptables-save -t nat``: the table's chains and rules, each rule parsed on demand into
base matches, match modules, target and target options, and a canonical form for comparing rules parsed rather than
as text (iptables-save reorders matches and rewrites values: ``--probability 0.5`` prints as ``0.50000000000``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from .. import addr

# Options each extension understands, so that a token stream such as
# "-j MASQUERADE --random-fully -p tcp -m statistic --mode random --probability 0.5 --to-ports 1-2"
# is split the way iptables' own option parser splits it.
_KNOWN_OPTS = {
    'comment': ('--comment',),
    'addrtype': ('--src-type', '--dst-type', '--limit-iface-in', '--limit-iface-out'),
    'conntrack': ('--ctstate', '--ctproto', '--ctorigsrc', '--ctorigdst', '--ctreplsrc', '--ctrepldst', '--ctstatus',
                  '--ctexpire', '--ctdir'),
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
_TOKEN_RE = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')
_UNESCAPE_RE = re.compile(r'\\(.)')
_NUMBER_RE = re.compile(r'-[0-9.]+')
_JUMP_WORDS = (' -j ', ' -g ', ' --jump ', ' --goto ')


def quote(token):
    """Quote one token as iptables-save does: double quotes around anything with spaces or quotes."""
    if token == '' or any(c in token for c in ' \t"\\\'') or token.startswith('#'):
        return '"%s"' % token.replace('\\', '\\\\').replace('"', '\\"')
    return token


def rule_line(verb, chain, tokens):
    return ' '.join([verb, chain] + [quote(t) for t in tokens])


def split_line(line):
    """Tokens of an iptables-save line: double-quoted strings with backslash escapes, else whitespace."""
    if '"' not in line:
        return line.split()
    return [_UNESCAPE_RE.sub(r'\1', quoted) if bare == '' else bare for quoted, bare in _TOKEN_RE.findall(line)]


class Entry(object):
    """One ``-A`` line: its chain and the line as printed; tokens and the parse on demand."""

    __slots__ = ('chain', 'line', '_parsed')

    def __init__(self, chain, line):
        self.chain = chain
        self.line = line
        self._parsed = None

    @property
    def parsed(self):
        if self._parsed is None:
            self._parsed = parse_rule(split_line(self.line)[2:])
        return self._parsed

    @property
    def target(self):
        # cheap for the common case; the full parse only when the line has a jump
        if not any(w in self.line for w in _JUMP_WORDS):
            return None
        return self.parsed['target']

    @property
    def spec(self):
        """The rule without ``-A``: what ``-D`` takes to delete it."""
        return self.line[3:]


class NatTable(object):
    def __init__(self):
        self.chains = {}  # name -> declaration line as printed
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

    def jumps(self, chain):
        return [e for e in self.rules('POSTROUTING') if e.target == chain]


def parse_save(text):
    """Parse ``iptables-save -t nat`` output (with or without ``-c``)."""
    table = NatTable()
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] == '#':
            continue
        if line[0] == '*':
            current = line[1:]
        elif current != 'nat':
            continue
        elif line == 'COMMIT':
            current = None
        elif line[0] == ':':
            table.chains[line[1:].split()[0]] = line
        else:
            if line[0] == '[':  # counters from -c
                line = line.split(']', 1)[1].strip()
            parts = line.split(None, 2)
            if parts[0] == '-A' and len(parts) >= 2:
                table.entries.append(Entry(parts[1], line))
    return table


def parse_rule(tokens):
    """Split a rule's tokens into base matches, match modules, target and target options."""
    base, modules, target_opts = [], [], []
    target = None
    section = None  # the options list of the current -m module or target
    neg = False
    i, n = 0, len(tokens)

    def values_from(j):
        vals = []
        while j < n and tokens[j] != '!' and not (tokens[j].startswith('-') and len(tokens[j]) > 1
                                                  and not _NUMBER_RE.fullmatch(tokens[j])):
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
            section = []
            modules.append((tokens[i + 1], section))
            i += 2
        elif tok in ('-j', '--jump', '-g', '--goto') and i + 1 < n:
            target = ('goto:' if tok in ('-g', '--goto') else '') + tokens[i + 1]
            section = target_opts
            i += 2
        else:
            vals, j = values_from(i + 1)
            owner = base if tok in _BASE_OPTS else section
            tok = _BASE_OPTS.get(tok, tok)
            if owner is not base:
                # the most recent extension that knows the option owns it (as iptables' parser decides)
                for name, opts in reversed(modules + ([(target, target_opts)] if target else [])):
                    if tok in _KNOWN_OPTS.get(name.replace('goto:', ''), ()):
                        owner = opts
                        break
            (owner if owner is not None else base).append((neg, tok, tuple(vals)))
            i = j
        neg = False
    return {'base': base, 'modules': modules, 'target': target, 'target_opts': target_opts}


def _norm_value(opt, vals):
    if opt in ('-s', '-d'):
        return tuple(addr.canonical(v) for v in vals)
    if opt == '-p':
        return tuple(v.lower() for v in vals)
    if opt == '--probability':
        try:
            return tuple(str(int(round(float(v) * _PROB_SCALE))) for v in vals)
        except ValueError:
            return tuple(vals)
    return tuple(vals)


def _norm_opts(opts):
    return tuple(sorted((neg, opt, _norm_value(opt, vals)) for neg, opt, vals in opts))


def canonical(rule):
    """A comparable form of a rule (tokens, or a parse_rule result)."""
    p = parse_rule(rule) if isinstance(rule, list) else rule
    return (_norm_opts(p['base']), tuple((name, _norm_opts(opts)) for name, opts in p['modules']), p['target'],
            _norm_opts(p['target_opts']))


def _fmt_opts(opts):
    out = []
    for neg, opt, vals in opts:
        out += ['!', opt] if neg else [opt]
        for v in vals:
            if opt == '--probability':
                v = '%.11f' % (int(round(float(v) * _PROB_SCALE)) / float(_PROB_SCALE))
            out.append(quote(v))
    return out


def save_text(chain, tokens):
    """One rule as iptables-save prints it (matches reordered, values rewritten), for diffs and predictions."""
    p = parse_rule(tokens)
    out = ['-A', chain]
    for neg, opt, vals in sorted(p['base'], key=lambda b: _BASE_ORDER.index(b[1]) if b[1] in _BASE_ORDER else 99):
        out += ['!', opt] if neg else [opt]
        out += [quote(v) for v in (_norm_value(opt, vals) if opt in ('-s', '-d') else vals)]
    for name, opts in p['modules']:
        out += ['-m', name] + _fmt_opts(opts)
    if p['target']:
        order = _TARGET_OPT_ORDER.get(p['target'], ())
        out += ['-j', p['target']] + _fmt_opts(sorted(p['target_opts'],
                                                      key=lambda o: order.index(o[1]) if o[1] in order else 99))
    return ' '.join(out)
