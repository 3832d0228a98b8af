"""The reporting commands: ``report``, ``compare`` and ``tables`` (registered on the main CLI)."""

from __future__ import annotations

from pathlib import Path

import click

from .cli_common import format_table, user_errors


@click.command("report")
@click.argument("runs_dirs", metavar="RUNS_DIR...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the site (created; files of an earlier build are overwritten).")
@click.option("--show-restricted-images", is_flag=True,
              help="Show images of tasks whose licence forbids redistribution (for private use only).")
@click.option("--paper", default="spatialthinker", show_default=True,
              help="Table specification in reports/ for the paper page and published rows ('none' to skip).")
@click.option("--no-samples", is_flag=True, help="Skip the per-run sample browsers (faster on huge run sets).")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=0, show_default=True,
              help="Worker processes for pages and plots (0 = one per CPU, 1 = none).")
@user_errors
def report_cmd(runs_dirs: tuple[Path, ...], out_dir: Path, show_restricted_images: bool, paper: str,
               no_samples: bool, jobs: int) -> None:
    """Build a static HTML leaderboard with plots, sample browsers and provenance from run directories.

    RUNS_DIR is a run directory or a folder of them (searched recursively). Open OUTPUT/index.html
    in a browser; no server is needed.
    """
    from .report import SiteOptions, build_site

    res = build_site(runs_dirs, out_dir, SiteOptions(show_restricted_images=show_restricted_images,
                                                      paper=None if paper == "none" else paper,
                                                      samples=not no_samples, jobs=jobs))
    for w in res.warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(f"report: {res.n_runs} runs, {res.n_pages} pages in {res.seconds:.1f} s -> {res.out_dir / 'index.html'}")


@click.command("compare")
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the comparison, with the flipped samples, as an HTML page.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the paired bootstrap.")
@click.option("--n-boot", type=click.IntRange(min=100), default=2000, show_default=True,
              help="Paired bootstrap resamples.")
@user_errors
def compare_cmd(a: Path, b: Path, html_path: Path | None, seed: int, n_boot: int) -> None:
    """Paired comparison of A and B (two run directories, or two folders of runs matched by task).

    Per benchmark: Δ accuracy with a paired bootstrap 95% CI, exact McNemar p on the flipped
    samples, Holm-adjusted across benchmarks. Samples are paired by id; different task versions
    are refused.
    """
    from .compare import HEADERS, compare, render_html, side_label, table_rows

    rows, warnings = compare([a], [b], seed=seed, n_boot=n_boot)
    click.echo(f"A: {side_label(rows, 'a')} ({a})")
    click.echo(f"B: {side_label(rows, 'b')} ({b})")
    click.echo("")
    click.echo(format_table(HEADERS, table_rows(rows)))
    click.echo("")
    click.echo(f"Δ = A − B on samples both answered; paired bootstrap ({n_boot}, seed {seed}); exact McNemar; "
               "Holm across benchmarks.")
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(render_html(rows, warnings, seed=seed, n_boot=n_boot), encoding="utf-8")
        click.echo(f"html: {html_path}")


@click.command("tables")
@click.argument("runs_dirs", metavar="[RUNS...]", nargs=-1, type=click.Path(path_type=Path))
@click.option("--paper", required=True, help="Table specification: a name in reports/ (spatialthinker) or a path.")
@click.option("--format", "fmt", type=click.Choice(["md", "latex"]), default="md", show_default=True,
              help="What to print.")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write tables.md and tables.tex into this folder.")
@click.option("--match", "matches", multiple=True, metavar="RUN_MODEL=NAME",
              help="Pair a run's model id with a published model (besides leaderboard/models.yaml).")
@user_errors
def tables_cmd(runs_dirs: tuple[Path, ...], paper: str, fmt: str, out_dir: Path | None, matches: tuple[str, ...]) -> None:
    """A paper's results tables with its rows, columns and order: published rows as printed, measured rows
    from RUNS, and a verification table (measured vs published, Δ, band)."""
    from .runset import load_runs
    from .tables import build_tables, load_spec, parse_matches, render_latex, render_markdown, verification

    spec = load_spec(paper)
    runs = load_runs(runs_dirs) if runs_dirs else []
    tables = build_tables(spec, runs, matches=parse_matches(matches))
    checks = verification(tables)
    md, tex = render_markdown(spec, tables, checks), render_latex(spec, tables, checks)
    click.echo(md if fmt == "md" else tex, nl=False)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "tables.md").write_text(md, encoding="utf-8")
        (out_dir / "tables.tex").write_text(tex, encoding="utf-8")
        click.echo(f"\nwritten: {out_dir / 'tables.md'}, {out_dir / 'tables.tex'}", err=True)
    if runs_dirs and not any(r.kind == "measured" for t in tables for r in t.rows):
        click.echo("warning: no run feeds any column of these tables (see the task ids in the specification)",
                   err=True)


COMMANDS = (report_cmd, compare_cmd, tables_cmd)
