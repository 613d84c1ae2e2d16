"""The --env and --set KEY=VALUE arguments that choose and override the config, for any command."""

from __future__ import annotations

import argparse


def add_env_args(parser: argparse.ArgumentParser, default_env: str = "local") -> None:
    """--env ENV and repeatable --set KEY=VALUE, shared by every command and the job scripts."""
    parser.add_argument(
        "--env", default=default_env, help=f"conf/<env>.yaml (default {default_env})"
    )
    add_set_arg(parser)


def add_set_arg(parser: argparse.ArgumentParser, help: str = "override a config key") -> None:
    """Repeatable --set KEY=VALUE, collected in args.overrides."""
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help
    )
