"""``lineage completion bash|zsh|fish``: a shell completion script, made from the parser itself.

Subcommands and their options come from the live parser, so a new command completes without
touching this module.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from .common import CommandError, add_command, refuse_json
from .output import Result

__all__ = ["SHELLS", "add_parsers", "completion", "script"]

SHELLS = ("bash", "zsh", "fish")


def _commands(parser: argparse.ArgumentParser) -> dict[str, tuple[str, list[str]]]:
    """subcommand -> (its one-line help, its option strings)."""
    found: dict[str, tuple[str, list[str]]] = {}
    for action in parser._actions:  # argparse offers no public view of its subparsers
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                options = sorted(o for a in sub._actions for o in a.option_strings)
                found[name] = (helps.get(name, ""), options)
    return found


def _bash(commands: dict[str, tuple[str, list[str]]]) -> str:
    cases = "\n".join(
        f"        {name}) opts={shlex.quote(' '.join(opts))} ;;"
        for name, (_, opts) in sorted(commands.items())
    )
    first = " ".join([*sorted(commands), "--store", "--json", "--include-failed", "--help"])
    return f"""# lineage completion for bash: eval "$(lineage completion bash)"
_lineage() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" cmd="" opts="" word
    for word in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        case "$word" in -*) ;; *) cmd="$word"; break ;; esac
    done
    if [ -z "$cmd" ]; then
        COMPREPLY=($(compgen -W "{first}" -- "$cur"))
        return
    fi
    case "$cmd" in
{cases}
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}}
complete -o default -F _lineage lineage
"""


def _zsh(commands: dict[str, tuple[str, list[str]]]) -> str:
    described = "\n".join(
        f"        {shlex.quote(name + ':' + text.replace(':', ' '))}"
        for name, (text, _) in sorted(commands.items())
    )
    cases = "\n".join(
        f"        {name}) _arguments '*:file:_files' {' '.join(shlex.quote(o) for o in opts)} ;;"
        for name, (_, opts) in sorted(commands.items())
    )
    return f"""#compdef lineage
# lineage completion for zsh: eval "$(lineage completion zsh)"
_lineage() {{
    local -a commands
    commands=(
{described}
    )
    if (( CURRENT == 2 )); then
        _describe 'lineage command' commands
        return
    fi
    case "${{words[2]}}" in
{cases}
    esac
}}
compdef _lineage lineage
"""


def _fish(commands: dict[str, tuple[str, list[str]]]) -> str:
    lines = ["# lineage completion for fish: lineage completion fish | source"]
    names = " ".join(sorted(commands))
    for name, (text, opts) in sorted(commands.items()):
        lines.append(
            f"complete -c lineage -n 'not __fish_seen_subcommand_from {names}' -a {name} "
            f"-d {shlex.quote(text)}"
        )
        for option in opts:
            if option.startswith("--"):
                lines.append(
                    f"complete -c lineage -n '__fish_seen_subcommand_from {name}' -l {option[2:]}"
                )
    return "\n".join(lines) + "\n"


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    """The completion script for ``shell`` (bash, zsh or fish)."""
    makers = {"bash": _bash, "zsh": _zsh, "fish": _fish}
    if shell not in makers:
        raise CommandError(f"no completion for {shell!r}; accepted: {', '.join(SHELLS)}")
    return makers[shell](_commands(parser))


def completion(args: argparse.Namespace) -> Result:
    """``completion``: print the script."""
    from .parser import build_parser  # the parser imports this module: built on use

    refuse_json(args, "it prints a shell script")
    return Result(raw=script(args.shell, build_parser()))


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``completion``."""
    parser = add_command(
        sub,
        "completion",
        common,
        summary="print a shell completion script",
        description="A completion script for bash, zsh or fish, to load in the shell's startup "
        "file.",
        examples=[
            'eval "$(lineage completion bash)"   # in ~/.bashrc',
            'eval "$(lineage completion zsh)"    # in ~/.zshrc',
            "lineage completion fish > ~/.config/fish/completions/lineage.fish",
        ],
        handler=completion,
    )
    parser.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
