# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 10, "arguments as written": the host program and the module ``ip_masq_chain`` take a DaemonSet's ``args:`` in
Go ``flag`` syntax, as upstream's binary (kubernetes-sigs/ip-masq-agent v2.12: Go flag + klog) takes them.

Every test here fails on the code before issue 10: the program refused ``--random-fully=false``, ``-masq-chain=X``,
``-v=2`` ... (exit 2), accepted abbreviations such as ``--masq=X`` that upstream refuses, and the module had no ``args``
option. They pass with ``cli.go_flags`` in front of the parser.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json
import os
from unittest import mock

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import cli
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.spec import RUNTIME_FIELDS
from ansible_collections.ipmasq.agent.plugins.modules import ip_masq_chain

SAVE = ['/usr/sbin/iptables-save', '-t', 'nat']
SAVE6 = ['/usr/sbin/ip6tables-save', '-t', 'nat']
RESTORE = ['/usr/sbin/iptables-restore', '--noflush', '-w', '10']
RESTORE6 = ['/usr/sbin/ip6tables-restore', '--noflush', '-w', '10']
V189 = (['/usr/sbin/iptables', '--version'], 0, 'iptables v1.8.9 (nf_tables)\n', '')
ROUTES = [(['/usr/sbin/ip', '-j', '-4', 'route', 'show', 'default'], 0, '[]', ''),
          (['/usr/sbin/ip', '-j', '-6', 'route', 'show', 'default'], 0, '[]', '')]
NO_TABLE = (['/usr/sbin/nft', '-j', 'list', 'table', 'inet', 'ip-masq-agent'], 1, '', 'Error: No such file or directory\n')
DEFAULTS = dict((f.name, f.default) for f in RUNTIME_FIELDS)
# A real upstream DaemonSet's args (GKE's ip-masq-agent v2.12.6 manifest, Dataplane V2), as written.
GKE_ARGS = ['--v=2', '--logtostderr=false', '--log_file=/dev/stdout', '--log_file_max_size=0', '--masq-chain=IP-MASQ',
            '--random-fully=false']
GKE_NOTE = 'ip-masq-agent: note: ignoring klog flags: --v=2, --logtostderr=false, --log_file=/dev/stdout, --log_file_max_size=0\n'


@pytest.fixture
def config(tmp_path):
    p = tmp_path / 'config'
    p.write_text('nonMasqueradeCIDRs: [10.0.0.0/8]\n')
    return str(p)


def main(argv, runner=None, find=None):
    """cli.main -> (exit code, stdout, stderr); a usage error (SystemExit) is its code."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with mock.patch('sys.stderr', err):
            rc = cli.main(argv, runner=runner, find=find, out=out, err=err)
    except SystemExit as e:
        rc = e.code
    return rc, out.getvalue(), err.getvalue()


def check(argv, config, monkeypatch):
    """``ip-masq-agent check --config CONFIG ARGV`` -> (exit code, the runtime values it ran with, stderr)."""
    seen = []
    real = cli.settings_from_args
    monkeypatch.setattr(cli, 'settings_from_args', lambda args: seen.append(real(args)) or seen[-1])
    rc, _out, err = main(['check', '--config', config] + argv)
    return rc, dict((f.name, getattr(seen[-1], f.name)) for f in RUNTIME_FIELDS) if seen else None, err


# --- (argv) -> the runtime values, the same as the long options' -----------------------------------------------------

FORMS = [
    # (upstream's spelling, our long options, the runtime values that differ from the defaults)
    (['--random-fully=false'], ['--no-random-fully'], {'random_fully': False}),
    (['--random-fully=true'], ['--random-fully'], {}),
    (['-random-fully=0'], ['--no-random-fully'], {'random_fully': False}),
    (['--random-fully=F'], ['--no-random-fully'], {'random_fully': False}),
    (['--no-random-fully', '-random-fully'], ['--random-fully'], {}),
    (['--enable-ipv6=false'], ['--ip-version=ipv4'], {}),
    (['--enable-ipv6', '--enable-ipv6=false'], ['--ip-version=ipv4'], {}),
    (['--enable-ipv6=true'], ['--ip-version=both'], {'ip_version': 'both'}),
    (['-enable-ipv6'], ['--ip-version=both'], {'ip_version': 'both'}),
    (['--enable-ipv6=T'], ['--enable-ipv6'], {'ip_version': 'both'}),
    (['--nomasq-all-reserved-ranges=false'], ['--no-nomasq-all-reserved-ranges'], {}),
    (['--nomasq-all-reserved-ranges=TRUE'], ['--nomasq-all-reserved-ranges'], {'nomasq_all_reserved_ranges': True}),
    (['-nomasq-all-reserved-ranges=1'], ['--nomasq-all-reserved-ranges'], {'nomasq_all_reserved_ranges': True}),
    (['-masq-chain=IP-MASQ'], ['--masq-chain=IP-MASQ'], {'chain': 'IP-MASQ'}),
    (['-masq-chain', 'IP-MASQ'], ['--masq-chain', 'IP-MASQ'], {'chain': 'IP-MASQ'}),
    (['-to-ports', '32768-65535'], ['--to-ports=32768-65535'], {'to_ports': '32768-65535'}),
    (['-v=2', '--logtostderr'], [], {}),
    (['-v', '4', '-vmodule=sync=5', '--alsologtostderr=False', '--log_dir', '/tmp', '-stderrthreshold=INFO'], [], {}),
    (['-wait=3', '-backend', 'nftables', '--no-random-fully=false'], ['--wait', '3', '--backend', 'nftables', '--random-fully'],
     {'wait': 3.0, 'backend': 'nftables'}),
    (['--masq-chain=IP-MASQ', '--nomasq-all-reserved-ranges=false', '-v=2', '--enable-ipv6=true'],
     ['--masq-chain=IP-MASQ', '--ip-version=both'], {'chain': 'IP-MASQ', 'ip_version': 'both'}),
    (GKE_ARGS, ['--masq-chain=IP-MASQ', '--no-random-fully'], {'chain': 'IP-MASQ', 'random_fully': False}),
]


@pytest.mark.parametrize('upstream, ours, values', FORMS, ids=[' '.join(f[0]) for f in FORMS])
def test_upstream_forms_give_the_long_options_settings(config, monkeypatch, upstream, ours, values):
    """Before issue 10 each upstream form here exited 2 (argparse refused ``=false``, single dashes, klog's flags)."""
    rc, got, _err = check(upstream, config, monkeypatch)
    assert rc == 0
    assert got == dict(DEFAULTS, **values)
    assert check(ours, config, monkeypatch)[:2] == (0, got)


def test_build_parser_takes_what_go_flags_makes(config):
    """The normaliser's output is the parser's input: the flags the role writes (Settings.argv()) and the Go forms
    parse to the same namespace. Before issue 10 there was no ``cli.go_flags``."""
    parser = cli.build_parser()
    tokens, klog = cli.go_flags(['sync', '-masq-chain', 'X', '--random-fully=false', '-enable-ipv6', '-v=2'])
    assert (tokens, klog) == (['sync', '--masq-chain=X', '--no-random-fully', '--enable-ipv6'], ['-v=2'])
    long_options = ['sync', '--masq-chain=X', '--no-random-fully', '--ip-version=both']
    assert vars(parser.parse_args(tokens)) == vars(parser.parse_args(long_options))


# --- the klog note ---------------------------------------------------------------------------------------------------

def test_klog_flags_are_ignored_with_one_note(config):
    """Before issue 10: exit 2, ``unrecognized arguments: -v=2 --logtostderr``."""
    rc, out, err = main(['check', '--config', config, '-v=2', '--logtostderr'])
    assert (rc, err) == (0, 'ip-masq-agent: note: ignoring klog flags: -v=2, --logtostderr\n')
    assert out == 'config %s is valid: 1 non-masquerade CIDRs, resync every 60s\n' % config


def test_klog_value_flag_with_separate_value_is_named_as_written(config):
    """``-v 2``: klog's -v takes a value, so ``2`` is not the subcommand's argument. Before issue 10: exit 2."""
    rc, _out, err = main(['check', '--config', config, '-v', '2', '-one_output'])
    assert (rc, err) == (0, 'ip-masq-agent: note: ignoring klog flags: -v 2, -one_output\n')


def test_args_file_in_go_syntax_one_note_for_both_sources(config, scripted, find, tmp_path):
    """A real upstream DaemonSet args list in the argument file (comments kept): sync applies its chain and random-fully,
    one note names the klog flags of the command line and the file. Before issue 10: exit 2 from the file's first
    line."""
    args = tmp_path / 'args'
    args.write_text('# pasted from the DaemonSet\n# The masq-chain must be IP-MASQ\n' + '\n'.join(GKE_ARGS) + '\n')
    runner = scripted(ROUTES + [(SAVE, 0, '', ''), NO_TABLE, (RESTORE, 0, '', '')])
    rc, out, err = main(['sync', '--config', config, '--lock-file', str(tmp_path / 'lock'), '-logtostderr', '--args-file',
                         str(args)], runner, find)
    assert (rc, out) == (0, 'ipv4: changed: create chain IP-MASQ; append POSTROUTING jump to IP-MASQ\n')
    assert err == GKE_NOTE.replace('klog flags: ', 'klog flags: -logtostderr, ')
    assert runner.script == []
    payload = runner.calls[-1][1]
    assert payload.startswith('*nat\n:IP-MASQ - [0:0]\n') and '--random-fully' not in payload


# --- usage errors: exit 2, nothing run -------------------------------------------------------------------------------

@pytest.mark.parametrize('argv, message', [
    (['--random-fully=maybe'], "invalid boolean value 'maybe' for --random-fully: use true or false (Go also takes 1, 0, t, f, T, F, "
                               "TRUE, FALSE, True, False)"),
    (['-enable-ipv6=yes'], "invalid boolean value 'yes' for -enable-ipv6: use true or false"),
    (['--nomasq-all-reserved-ranges='], "invalid boolean value '' for --nomasq-all-reserved-ranges"),
    (['--logtostderr=2'], "invalid boolean value '2' for --logtostderr"),
    (['-random-fully', 'false'], 'unrecognized arguments: false'),  # a Go bool flag never takes a separate value
    (['-v=2', '--no-such-flag'], 'unrecognized arguments: --no-such-flag'),
    (['--masq=IP-MASQ'], 'unrecognized arguments: --masq=IP-MASQ'),  # argparse took an abbreviation; Go does not
    (['-masq-chain'], 'flag needs an argument: -masq-chain'),
    (['-v'], 'flag needs an argument: -v'),
    (['---masq-chain=X'], "bad flag syntax: '---masq-chain=X'"),
])
def test_usage_errors_name_the_flag_and_exit_2(config, argv, message):
    """Before issue 10 these exited 2 with argparse's words (``ignored explicit argument``), or 0 (``--masq``)."""
    rc, out, err = main(['sync', '--config', config] + argv, runner=None, find=None)
    assert (rc, out) == (2, '')
    assert err.startswith('usage: ip-masq-agent')
    assert err.splitlines()[-1].startswith('ip-masq-agent: error: %s' % message), err


def test_bad_bool_in_args_file_exits_2_naming_the_file(config, scripted, find, tmp_path):
    """Before issue 10 the file's ``--random-fully=maybe`` was refused by argparse, naming neither value nor file."""
    args = tmp_path / 'args'
    args.write_text('--masq-chain=IP-MASQ\n--random-fully=maybe\n')
    runner = scripted([])
    rc, out, err = main(['sync', '--config', config, '--lock-file', str(tmp_path / 'lock'), '--args-file', str(args)], runner, find)
    assert (rc, out, runner.calls) == (2, '', [])
    assert err.splitlines()[-1] == ("ip-masq-agent: error: invalid boolean value 'maybe' for --random-fully: use true or false (Go "
                                    "also takes 1, 0, t, f, T, F, TRUE, FALSE, True, False) (in --args-file %s)" % args)


# --- the module: args win over the runtime options ------------------------------------------------------------------

@pytest.fixture
def run_chain(capsys):
    def _run(params, calls=(), check_mode=False):
        script = list(calls)
        seen = []

        def run_command(argv, data=None, **kw):
            seen.append((list(argv), data))
            assert script, 'unexpected command %r' % (argv,)
            want, rc, out, err = script.pop(0)
            assert list(argv) == want, (argv, want)
            return rc, out, err
        with patch_module_args(dict(params, _ansible_check_mode=check_mode, _ansible_diff=False)), \
                mock.patch.object(basic.AnsibleModule, 'run_command', side_effect=run_command), \
                mock.patch.object(basic.AnsibleModule, 'get_bin_path', side_effect=lambda name, *a, **k: '/usr/sbin/' + name):
            with pytest.raises(SystemExit):
                ip_masq_chain.main()
        assert script == [], 'commands not run: %r' % script
        return json.loads(capsys.readouterr().out), seen
    return _run


def test_module_args_win_over_the_runtime_options(run_chain, tmp_path):
    """A DaemonSet's args, as written, over the options: chain, families and random-fully come from the args, and the
    program's argument file gets the result. Before issue 10: ``Unsupported parameters: args``."""
    args_file = tmp_path / 'args'
    params = dict(non_masquerade_cidrs=['10.0.0.0/8'], chain='FROM-OPTION', ip_version='ipv4', random_fully=True,
                  nomasq_all_reserved_ranges=True, lock_file=str(tmp_path / 'lock'), args_file=str(args_file),
                  args=['--masq-chain=IP-MASQ', '--nomasq-all-reserved-ranges=false', '-v=2', '--enable-ipv6=true',
                        '-random-fully=false'])
    result, seen = run_chain(params, ROUTES + [(SAVE, 0, '', ''), (SAVE6, 0, '', ''), NO_TABLE, (RESTORE, 0, '', ''),
                                               (RESTORE6, 0, '', '')])
    assert result['changed'] is True and result['args_file_changed'] is True, result
    assert sorted(result['actions']) == ['ipv4', 'ipv6']
    assert result['actions']['ipv4'] == ['create chain IP-MASQ', 'append POSTROUTING jump to IP-MASQ']
    assert all(data.startswith('*nat\n:IP-MASQ - [0:0]\n') and '--random-fully' not in data for _a, data in seen[-2:])
    assert args_file.read_text().splitlines()[1:] == ['--masq-chain=IP-MASQ', '--ip-version=both', '--no-random-fully',
                                                      '--lock-file=%s' % (tmp_path / 'lock')]


def test_module_args_name_the_lock_file(run_chain, tmp_path):
    """``--lock-file`` in args is the lock (and record) the run uses, not the option's. Before issue 10: no ``args``."""
    params = dict(non_masquerade_cidrs=['10.0.0.0/8'], lock_file=str(tmp_path / 'option.lock'),
                  args=['-lock-file', str(tmp_path / 'args.lock'), '-wait=3'])
    result, _seen = run_chain(params, [V189] + ROUTES + [(SAVE, 0, '', ''), NO_TABLE, (RESTORE[:-1] + ['3'], 0, '', '')])
    assert result['changed'] is True
    assert os.path.exists(str(tmp_path / 'args.state')) and not os.path.exists(str(tmp_path / 'option.state'))


@pytest.mark.parametrize('args, msg', [
    (['--random-fully=maybe'], "args: invalid boolean value 'maybe' for --random-fully: use true or false"),
    (['--config=/etc/config/ip-masq-agent'], 'args: unrecognized arguments: --config=/etc/config/ip-masq-agent'),
    (['--nonMasqueradeCIDRs=10.0.0.0/8'], 'args: unrecognized arguments: --nonMasqueradeCIDRs=10.0.0.0/8'),
    (['--help'], 'args: unrecognized arguments: --help'),
    (['--masq-chain', 'IP-MASQ', 'sync'], "args: unexpected argument 'sync': only flags are taken here"),
    (['--ip-version=ipv5'], "args: argument --ip-version: invalid choice: 'ipv5'"),
    (['--masq-chain=RETURN'], "args: --masq-chain: invalid chain name 'RETURN': it is a built-in chain or target"),
])
def test_module_bad_args_fail_and_run_nothing(run_chain, tmp_path, args, msg):
    """Refused before anything runs, naming the option and the flag. Before issue 10: ``Unsupported parameters: args``."""
    result, seen = run_chain(dict(lock_file=str(tmp_path / 'lock'), args=args))
    assert result['failed'] is True and result['msg'].startswith(msg), result['msg']
    assert seen == []
