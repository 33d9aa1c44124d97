# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The iptables backend, one unit per family: read once (``iptables-save -t nat``), compare parsed rules, write once
(``iptables-restore --noflush -w``), touching only the agent's chain and its POSTROUTING jump (and, on a rename, the
chain the agent wrote before)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ..errors import HostError, NotOursError
from ..intent import COMMENTS
from .base import Plan, Unit
from .iptables_save import canonical, parse_save, quote, rule_line, save_text

JUMP_COMMENT_FMT = ('ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom %s '
                    'chain')
_JUMP_COMMENT = re.compile(re.escape(JUMP_COMMENT_FMT).replace('%s', r'(\S+)'))
COMMANDS = {
    'ipv4': ('iptables', 'iptables-save', 'iptables-restore'),
    'ipv6': ('ip6tables', 'ip6tables-save', 'ip6tables-restore'),
}
_TARGETS = {'masquerade': 'MASQUERADE', 'snat': 'SNAT', 'return': 'RETURN'}


def jump_tokens(chain):
    """The POSTROUTING rule upstream ensures (appended) to send non-local traffic to the agent's chain."""
    return ['-m', 'comment', '--comment', JUMP_COMMENT_FMT % chain, '-m', 'addrtype', '!', '--dst-type', 'LOCAL',
            '-j', chain]


def rule_tokens(rule):
    """An intent rule as upstream writes it (its token order, which the restore payload keeps)."""
    tokens = ['-m', 'comment', '--comment', rule.comment]
    if rule.dnat:
        tokens += ['-m', 'conntrack', '--ctstate', 'DNAT']
    if rule.src:
        tokens += ['-s', rule.src]
    if rule.dst:
        tokens += ['-d', rule.dst]
    tokens += ['-j', _TARGETS[rule.verdict]]
    if rule.to_source:
        tokens += ['--to-source', rule.to_source]
    if rule.random_fully:
        tokens.append('--random-fully')
    if rule.proto:
        tokens += ['-p', rule.proto]
    if rule.probability:
        tokens += ['-m', 'statistic', '--mode', 'random', '--probability', rule.probability]
    if rule.ports:
        lo, hi = rule.ports
        tokens += ['--to-ports', str(lo) if lo == hi else '%d-%d' % (lo, hi)]
    return tokens


def version_supports_random_fully(text):
    """``--random-fully`` needs iptables >= 1.6.2 (upstream's HasRandomFully)."""
    m = re.search(r'v(\d+)\.(\d+)\.(\d+)', text)
    return bool(m) and tuple(int(x) for x in m.groups()) >= (1, 6, 2)


def comment_of(entry):
    """A rule's comment as the agent compares it: the quoting older upstream versions wrote (\\"...\\") taken off."""
    for name, opts in entry.parsed['modules']:
        if name == 'comment':
            for _neg, opt, vals in opts:
                if opt == '--comment' and vals:
                    return vals[0].strip('"\'')
    return None


def is_ours(entry, chain):
    """Written by the agent (any version, any quoting): a rule of its chain with one of its comments, or a POSTROUTING
    jump to the chain with the jump comment naming it."""
    comment = comment_of(entry)
    if entry.chain == 'POSTROUTING':
        m = _JUMP_COMMENT.fullmatch(comment or '')
        return bool(m) and m.group(1) == chain
    return comment in COMMENTS


def _payload(lines):
    return '*nat\n' + '\n'.join(lines) + '\nCOMMIT\n' if lines else None


class IptablesUnit(Unit):
    """One family's nat table."""

    backend = 'iptables'

    def __init__(self, host, family):
        self.host = host
        self.family = family
        self.scope = family
        self.families = (family,)
        self._bin, self._save, self._restore = COMMANDS[family]
        self.save_command = self._save

    # --- the host ------------------------------------------------------------------------------------------------
    def read(self):
        rc, out, err = self.host.run([self._save, '-t', 'nat'])
        if rc != 0:
            if 'Table does not exist' in err or "can't initialize" in err:
                return parse_save('')  # legacy with no nat table loaded yet: the restore creates it
            raise HostError('%s: %s -t nat failed (rc=%s): %s' % (self.family, self._save, rc, err.strip()),
                            cmd=[self._save, '-t', 'nat'], rc=rc, stdout=out, stderr=err)
        return parse_save(out)

    def apply(self, plan):
        wait = str(int(self.host.wait))
        rc, out, err = self.host.run([self._restore, '--noflush', '-w', wait], plan.payload)
        if rc != 0:
            hint = ''
            if 'lock' in err.lower():
                hint = ' (the xtables lock was held by another process for more than %ss)' % wait
            raise HostError('%s: %s --noflush failed (rc=%s)%s; nothing was changed: %s'
                            % (self.family, self._restore, rc, hint, err.strip()),
                            cmd=[self._restore, '--noflush', '-w', wait], rc=rc, stdout=out, stderr=err)

    def supports_random_fully(self):
        rc, out, err = self.host.run([self._bin, '--version'])
        return rc == 0 and version_supports_random_fully(out + err)

    # --- planning --------------------------------------------------------------------------------------------------
    def render(self, intents, chain):
        lines = [':%s - [0:0]' % chain] + [rule_line('-A', chain, rule_tokens(r)) for r in intents[0].rules]
        return _payload(lines)

    def _guard(self, live, chain, doing, owned=False):
        """Refuse to rewrite a chain the agent did not write, or to delete one that holds rules it did not write."""
        if not owned or doing == 'delete':
            foreign = [e for e in live.rules(chain) if not is_ours(e, chain)]
            if foreign:
                raise NotOursError(chain, self.family, foreign[0].line, doing)

    def foreign_jumps(self, live, chain):
        return [e for e in live.jumps(chain) if not is_ours(e, chain)]

    def plan(self, live, intents, chain, stale_chains=(), owned=()):
        intent = intents[0]
        wanted = [rule_tokens(r) for r in intent.rules]
        stale = [c for c in stale_chains if c != chain and (live.has_chain(c) or live.jumps(c))]
        self._guard(live, chain, 'rewrite', chain in owned)
        for old in stale:
            self._guard(live, old, 'delete')
        plan = Plan(self, chain)
        plan.before = self._lines(live, [chain] + stale)
        plan.after = [':%s - [0:0]' % chain, save_text('POSTROUTING', jump_tokens(chain))]
        plan.after += [save_text(chain, t) for t in wanted]
        lines = self._plan_chain(live, chain, wanted, plan)
        lines += self._plan_jump(live, chain, stale, intent.jump_first, plan)
        for old in stale:
            lines += self._remove_lines(live, old, plan, jumps=False)
        plan.payload = _payload(lines)
        return plan

    def _plan_chain(self, live, chain, wanted, plan):
        live_rules = live.rules(chain)
        if live.has_chain(chain):
            # fast path: the live lines are what iptables-save prints for the wanted rules; else compare parsed rules
            # (another iptables version may print the same rules differently)
            if [e.line for e in live_rules] == plan.after[2:]:
                return []
            if [canonical(e.parsed) for e in live_rules] == [canonical(t) for t in wanted]:
                return []
            plan.actions.append('rewrite chain %s (%d rules -> %d rules)' % (chain, len(live_rules), len(wanted)))
        else:
            plan.actions.append('create chain %s' % chain)
        # With --noflush, the chain line flushes and rebuilds this chain only, atomically with its rules.
        return [':%s - [0:0]' % chain] + [rule_line('-A', chain, t) for t in wanted]

    def _plan_jump(self, live, chain, stale, first, plan):
        """Exactly one jump, where it belongs: the earliest of the agent's jumps is kept in place (or position 1 with
        ``first``); duplicates, old-style jumps and the jumps of a renamed chain go in the same transaction."""
        postrouting = live.rules('POSTROUTING')
        for e in self.foreign_jumps(live, chain):
            plan.warnings.append('%s: a POSTROUTING jump to %s that the agent did not write is left in place: %s'
                                 % (self.family, chain, e.line))
        ours = [e for e in postrouting if e.target == chain and is_ours(e, chain)]
        old = [e for e in postrouting if e.target in stale and is_ours(e, e.target)]
        want = canonical(jump_tokens(chain))
        if len(ours) == 1 and not old and canonical(ours[0].parsed) == want and (not first or postrouting[0] is ours[0]):
            return []
        lines = ['-D ' + e.spec for e in ours + old]
        jump = [quote(t) for t in jump_tokens(chain)]
        anchor = [i for i, e in enumerate(postrouting) if e in ours or e in old]
        if first:
            lines.append(' '.join(['-I', 'POSTROUTING', '1'] + jump))
        elif anchor:
            lines.append(' '.join(['-I', 'POSTROUTING', str(anchor[0] + 1)] + jump))
        else:
            lines.append(' '.join(['-A', 'POSTROUTING'] + jump))
        if not ours and not old:
            plan.actions.append('%s POSTROUTING jump to %s' % ('insert' if first else 'append', chain))
        elif len(ours) == 1 and not old and canonical(ours[0].parsed) == want:
            plan.actions.append('move POSTROUTING jump to %s to position 1' % chain)
        else:
            plan.actions.append('replace POSTROUTING jumps (%d) with one jump to %s at position %s'
                                % (len(ours) + len(old), chain, 1 if first else anchor[0] + 1))
        return lines

    def _lines(self, live, chains):
        """The agent's lines in iptables-save order: chain declarations, POSTROUTING jumps, the chains' rules."""
        lines = [':%s - [0:0]' % c for c in chains if live.has_chain(c)]
        lines += [e.line for e in live.rules('POSTROUTING') if e.target in chains and is_ours(e, e.target)]
        for c in chains:
            lines += [e.line for e in live.rules(c)]
        return lines

    def _remove_lines(self, live, chain, plan, jumps=True):
        users = [e for e in live.entries if e.target in (chain, 'goto:' + chain) and not is_ours(e, chain)]
        if users and live.has_chain(chain):
            raise NotOursError(chain, self.family, users[0].line, 'delete (it is still used by a rule the agent did not '
                                                                  'write)')
        lines = []
        if jumps:
            for e in live.jumps(chain):
                lines.append('-D ' + e.spec)
                plan.actions.append('delete POSTROUTING jump to %s' % chain)
        if live.has_chain(chain):
            lines += ['-F %s' % chain, '-X %s' % chain]
            plan.actions.append('delete chain %s' % chain)
        return lines

    def plan_removal(self, live, chains):
        plan = Plan(self, ', '.join(chains), removal=True)
        plan.before = self._lines(live, list(chains))
        lines = []
        for chain in chains:
            self._guard(live, chain, 'delete')
            lines += self._remove_lines(live, chain, plan)
        plan.payload = _payload(lines)
        return plan
