"""Commands of the quantum plugin: ``workbench quantum rollout RUN_DIR SCENARIO.yaml``.

A typer sub-app, mounted on the `workbench` command line by the plugin's ``register_commands``
hook; it also runs on its own as ``python -m workbench_quantum``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(name="quantum", help="The wave-packet emulator (thesis §4.2): use trained emulators.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

EXIT_INVALID = 2


@app.callback()
def quantum() -> None:
    """The wave-packet emulator (thesis §4.2): use trained emulators."""


@app.command()
def rollout(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (runs/<study>/<timestamp>) or one of its cells/<id> directories.")],
    scenario: Annotated[Path, typer.Argument(help="YAML file: x0, s0, e0, potential (any form), and optionally frames.")],
    cell: Annotated[Optional[str], typer.Option("--cell", help="Cell id (or a unique prefix) whose emulator to use; default: the first.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Directory for rollout.npz and rollout.png; default: <scenario name>-rollout.")] = None,
    frames: Annotated[Optional[int], typer.Option("--frames", min=1, help="Frames to roll out (default: the scenario file's, else as in training).")] = None,
) -> None:
    """Roll a trained emulator out on a new scenario beside the solver's truth.

    Prints ⟨C⟩ and MAE; writes the arrays (rollout.npz) and a heatmap of truth vs emulator (rollout.png).
    """
    import matplotlib

    matplotlib.use("Agg")
    from workbench import WorkbenchError

    from .trained import load_emulator, read_scenario

    try:
        packet = read_scenario(scenario)
        emulator = load_emulator(run_dir, cell)
        result = emulator.rollout(packet, frames)
        written = result.save(out if out is not None else Path(f"{scenario.stem}-rollout"))
    except WorkbenchError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    coordinates = ", ".join(f"{k}={v}" for k, v in emulator.coordinates.items())
    typer.echo(f"emulator: cell {emulator.cell}" + (f" ({coordinates})" if coordinates else ""))
    typer.echo(f"scenario: X0={packet.x0:g}, S0={packet.s0:g}, E0={packet.e0:g}, potential {packet.potential.kind}; "
               f"{len(result.correlation)} frames rolled out")
    typer.echo(f"<C>  = {result.mean_correlation:.4f}   (normalized correlation, eq. 4.4, mean over frames; "
               f"last frame {result.correlation[-1]:.4f})")
    typer.echo(f"MAE  = {result.mean_mae:.3e}   (eq. 4.3, mean over frames)")
    typer.echo(f"wrote {written['arrays']} and {written['figure']}")


def main() -> None:
    app(prog_name="python -m workbench_quantum")
