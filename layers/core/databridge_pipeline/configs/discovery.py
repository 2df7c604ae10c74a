"""Finding the config files under ``table_configs/``: every one read, none missed without a word."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from databridge_pipeline.configs.problems import ConfigProblem, display_path


def config_files(root: Path) -> tuple[list[str], list[ConfigProblem]]:
    """The ``.yml``/``.yaml`` files under ``root`` as sorted paths relative to it (with ``/``), and what
    discovery could not look at. One ``scandir`` per folder, no stat per file.

    A link to a file is read; a link to a folder is not followed (it could loop, or pull in another tree's
    configs), and neither is a broken link or a loop: each is reported, as is a folder that cannot be read,
    so that no config goes missing without a word.
    """
    files: list[str] = []
    problems: list[ConfigProblem] = []
    folders: list[tuple[str, str]] = [(str(root), "")]
    while folders:
        folder, prefix = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as error:
            problems.append(
                ConfigProblem(display_path(Path(folder)), 0, f"cannot read this folder ({read_problem(error)})")
            )
            continue
        for entry in entries:
            if entry.is_symlink():
                problem = _link_problem(Path(entry.path))
                if problem:
                    problems.append(ConfigProblem(display_path(Path(entry.path)), 0, problem))
                    continue
            if entry.is_dir():
                folders.append((entry.path, f"{prefix}{entry.name}/"))
            elif entry.name.endswith((".yml", ".yaml")):
                files.append(prefix + entry.name)
    return sorted(files), problems


def _link_problem(path: Path) -> str | None:
    """Why discovery does not follow this symbolic link, or None for a link to a file (read as the file)."""
    try:
        target = path.resolve(strict=True)
    except RuntimeError:  # Python 3.11-3.12 report a loop this way
        return "a symbolic link loop; not followed"
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "a symbolic link loop; not followed"
        return f"a broken symbolic link (to {os.readlink(path)}); not followed"
    if target.is_dir():
        return "a symbolic link to a folder; not followed (copy the configs in, or point --configs at it)"
    return None


def read_problem(error: OSError) -> str:
    return (error.strerror or type(error).__name__).lower()
