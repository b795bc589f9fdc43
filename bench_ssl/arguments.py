"""The commands' argument parser: a bad argument is one line that names it and where the options are listed.

argparse prints its whole usage block (sixteen lines for `sweep`) before the error, which buries the one line
that says what is wrong; `--help` still prints the usage in full."""

from __future__ import annotations

import argparse


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; {self.prog} --help lists the options\n")
