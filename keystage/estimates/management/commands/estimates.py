"""`keystage estimates`: fit estimates on the national data of one or more years, and show a fit.

keystage estimates fit --year 2026 [--year 2025] [--contextual] [--now]
    queue a KS2 to KS4 fit for the worker (or, with --now, fit here and wait)
keystage estimates show [--fit ID] [--contextual] [--outcome NAME]
    the newest complete fit (or fit ID): each outcome's model, ambition levels and calibration
"""

from __future__ import annotations

from argparse import RawDescriptionHelpFormatter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from keystage.core.estimates.ambition import LEVELS
from keystage.core.estimates.calibration import SD_SHARE, STANDARD_ERRORS
from keystage.core.estimates.engine import FittedOutcome
from keystage.estimates import fitting, services
from keystage.estimates.models import EstimatesFit, FitStatus, Transition


class Command(BaseCommand):
    help = __doc__.split("\n\n")[0]

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = RawDescriptionHelpFormatter
        parser.epilog = __doc__.split("\n\n", 1)[1]
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        fit = actions.add_parser("fit", help="fit estimates on national data (queued for the worker)")
        fit.add_argument("--year", type=int, action="append", required=True, help="a year of national data")
        fit.add_argument("--transition", default=Transition.KS2_KS4.value, choices=Transition.values)
        fit.add_argument("--contextual", action="store_true", help="use disadvantage as a covariate too")
        fit.add_argument("--now", action="store_true", help="fit in this process and wait for it")
        show = actions.add_parser("show", help="show a fit's models, ambition levels and calibration")
        show.add_argument("--fit", type=int, help="the fit's number (default: the newest complete fit)")
        show.add_argument("--transition", default=Transition.KS2_KS4.value, choices=Transition.values)
        show.add_argument("--contextual", action="store_true", help="the newest contextual fit")
        show.add_argument("--outcome", help="one outcome, by name (e.g. 'Attainment 8'), in full")
        ks5 = actions.add_parser("import-ks5", help="import a national KS5 outcomes file for a year")
        ks5.add_argument("file", type=Path, help="CSV or Parquet in the KS5 import format")
        ks5.add_argument(
            "--year", type=int, required=True, help="the academic year of the A levels, by its end"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "fit":
            self._fit(options)
        elif options["action"] == "import-ks5":
            self._import_ks5(options)
        else:
            self._show(options)

    def _import_ks5(self, options: dict[str, Any]) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"There is no file {path}.")
        if not 2000 <= options["year"] <= 2100:
            raise CommandError(
                "--year is the academic year of the A levels by its end, e.g. 2026 for 2025/26."
            )
        try:
            dataset = fitting.import_ks5(path, options["year"])
        except fitting.EstimatesServiceError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Imported {dataset} at {dataset.institutions:,} institutions.")

    def _fit(self, options: dict[str, Any]) -> None:
        try:
            fit, new = fitting.request_fit(
                transition=options["transition"],
                years=options["year"],
                contextual=options["contextual"],
                source="command",
                enqueue=not options["now"],
            )
        except fitting.EstimatesServiceError as error:
            raise CommandError(str(error)) from None
        if not new:
            self.stdout.write(f"A fit is already waiting: {fit}. It will be used when it is complete.")
            return
        if not options["now"]:
            self.stdout.write(f"Queued {fit}; a worker (keystage worker) fits it.")
            return
        fit = fitting.run_fit(fit.pk)
        if fit.status != FitStatus.COMPLETE:
            raise CommandError(f"The fit failed: {fit.message}")
        self._summary(fit)

    def _show(self, options: dict[str, Any]) -> None:
        if options["fit"] is not None:
            fit = EstimatesFit.objects.filter(pk=options["fit"]).first()
            if fit is None:
                raise CommandError(f"There is no fit {options['fit']}.")
        else:
            fit = services.latest_fit(options["transition"], contextual=options["contextual"])
            if fit is None:
                raise CommandError("No fit is complete yet: keystage estimates fit --year YEAR makes one.")
        if fit.status != FitStatus.COMPLETE:
            self.stdout.write(f"{fit}" + (f": {fit.message}" if fit.message else ""))
            return
        if options["outcome"]:
            chosen = [
                o for o in services.fitted_outcomes(fit) if o.name.lower() == options["outcome"].lower()
            ]
            if not chosen:
                names = ", ".join(o.name for o in services.fitted_outcomes(fit))
                raise CommandError(f"The fit has no outcome “{options['outcome']}”; it has {names}.")
            self._outcome(chosen[0])
            return
        self._summary(fit)

    def _summary(self, fit: EstimatesFit) -> None:
        outcomes = services.fitted_outcomes(fit)
        took = (fit.finished_at - fit.started_at).total_seconds() if fit.finished_at and fit.started_at else 0
        self.stdout.write(
            f"{fit}, fitted in {took:.0f} s on {fit.pupils:,} pupils at {fit.schools:,} school-years"
        )
        if fit.background:
            self.stdout.write(f"  counting {fit.background}")
        self.stdout.write(
            f"  {'outcome':<32} {'pupils':>9}  {'mean':>6}  {'top 20%':>8}  {'top 5%':>7}  calibrated"
        )
        for outcome in outcomes:
            self.stdout.write(
                f"  {outcome.name[:32]:<32} {outcome.model.pupils:>9,}  {outcome.national_mean:>6.2f}  "
                f"{outcome.spread.shifts[80]:>+8.2f}  {outcome.spread.shifts[95]:>+7.2f}  "
                f"{'yes' if outcome.calibrated else 'NO'}"
            )
        for reason in fit.skipped:
            self.stdout.write(f"  skipped {reason}")

    def _outcome(self, outcome: FittedOutcome) -> None:
        model = outcome.model
        write = self.stdout.write
        write(f"{outcome.name}: {len(model.outcome.labels)} categories ({', '.join(model.outcome.labels)})")
        write(f"  fitted on {model.pupils:,} pupils; national mean {outcome.national_mean:.2f}")
        write("  prior attainment: the index rises by these slopes between knots")
        for low, high, slope in zip(model.knots, model.knots[1:], model.slopes, strict=False):
            write(f"    {low:6.1f} to {high:6.1f}: {slope:.3f} a point")
        for name, value in zip(model.covariates, model.coefficients, strict=True):
            error = model.standard_errors.get(name)
            shown = "not estimated" if error is None else f"{error:.3f}"
            write(f"  {name}: {value:+.3f} (standard error {shown})")
        spread = outcome.spread
        write(f"  schools' value added: spread {spread.spread:.3f} over {spread.schools:,} schools")
        for level, label in LEVELS.items():
            write(f"    {label}: index {outcome.spread.shifts[level]:+.3f}")
        write(
            f"  calibration on held-out schools (bound: {SD_SHARE} national SDs + {STANDARD_ERRORS:g} "
            "standard errors; * = not in the model)"
        )
        for row in outcome.calibration.iter_rows(named=True):
            flag = "" if row["in_model"] else "*"
            verdict = "within" if row["within"] else ("outside" if row["in_model"] else "finding")
            write(
                f"    {row['group_label'][:28]:<28} {row['value'][:24]:<24}{flag:1} {row['pupils']:>8,}  "
                f"estimate {row['estimate']:7.2f}  actual {row['actual']:7.2f}  {verdict}"
            )
