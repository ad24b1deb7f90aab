"""Pages of LA returns: a school's returns page, sending a file, the head teacher's confirmation;
the LA's rounds, a round's table of schools and movers, and its actions on a school's file.

Thin: each view checks permission and input, then calls one service function.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from keystage.accounts import policy
from keystage.audit.log import client_address
from keystage.core.file_kinds import download_name
from keystage.core.returns import ReturnTag
from keystage.core.roles import Action
from keystage.organisations.models import LocalAuthority, School
from keystage.returns import checking as checks
from keystage.returns import files, la_actions, pages, services
from keystage.returns import rounds as return_rounds
from keystage.returns.errors import ReturnsError
from keystage.returns.forms import ConfirmationForm, CorrectionForm, OpenRoundForm, PublishForm, SendForm
from keystage.returns.models import PublishedReport, Return, ReturnRound, Validation
from keystage.web.uploads import max_upload_mb, too_large_message, upload_refused_for_size


def _school(request: HttpRequest, org_id: int, action: Action) -> School:
    school = get_object_or_404(School.objects.select_related("la"), pk=org_id)
    policy.require(request.user, action, school)
    return school


def _la(request: HttpRequest, org_id: int) -> LocalAuthority:
    la = get_object_or_404(LocalAuthority, pk=org_id)
    policy.require(request.user, Action.RUN_LA_COLLECTIONS, la)
    return la


def _round(la: LocalAuthority, round_id: int) -> ReturnRound:
    return get_object_or_404(ReturnRound.objects.select_related("la"), pk=round_id, la=la)


def _show_error(form: forms.Form, error: ReturnsError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, str(error))


def _refuse_too_large(request: HttpRequest, form: forms.Form) -> bool:
    """A file the upload handler stopped for its size: say so on the file field. True if it did."""
    name = upload_refused_for_size(request)
    if name is None:
        return False
    form.is_valid()  # the other fields' messages too
    form.errors.pop("file", None)
    form.add_error("file", too_large_message(name, done="sent"))
    return True


def _download(stored: Any, filename: str) -> FileResponse:
    return FileResponse(stored, as_attachment=True, filename=filename)


# School side -----------------------------------------------------------------------------------


@never_cache
@login_required
def checking(request: HttpRequest, org_id: int) -> JsonResponse:
    """What a page showing a file being checked polls: done once none of the school's files is."""
    school = get_object_or_404(School, pk=org_id)
    pending = pages.still_checking(school, actor=request.user)
    return JsonResponse({"done": not pending, "reload": True})


@login_required
def school(request: HttpRequest, org_id: int) -> HttpResponse:
    school = get_object_or_404(School.objects.select_related("la"), pk=org_id)
    page = pages.school_returns_page(school, actor=request.user, ip=client_address(request))
    return render(
        request,
        "returns/school.html",
        {
            "school": school,
            "rounds": page.rounds,
            "history": page.history,
            "reports": page.reports,
            "can_send": page.can_send,
            "can_sign": page.can_sign,
            "can_see_files": page.can_see_files,
            "open_tags": page.open_tags,
            "being_checked": page.being_checked,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def send(request: HttpRequest, org_id: int) -> HttpResponse:
    school = _school(request, org_id, Action.SUBMIT_DATA)
    rounds = return_rounds.rounds_open_to(school)
    tags = list(dict.fromkeys(ReturnTag(r.tag) for r in rounds))
    form = SendForm(
        request.POST or None, request.FILES or None, tags=tags, initial={"tag": request.GET.get("tag")}
    )
    if request.method == "POST" and not _refuse_too_large(request, form) and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            sent = services.send_return(
                school,
                tag=form.cleaned_data["tag"],
                source=upload,
                filename=upload.name or "file",
                comment=form.cleaned_data["comment"],
                actor=request.user,
                ip=client_address(request),
            )
        except ReturnsError as error:
            _show_error(form, error)
        else:
            if sent.validation == Validation.PENDING:
                messages.success(
                    request, f"{sent.filename} was sent to {school.la.name}. It is being checked now."
                )
            else:
                messages.success(request, f"{sent.filename} was sent to {school.la.name}.")
            return redirect("returns:school", org_id=school.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "returns/send.html",
        {
            "school": school,
            "form": form,
            "rounds": rounds,
            "max_mb": max_upload_mb(),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, org_id: int, round_id: int) -> HttpResponse:
    school = _school(request, org_id, Action.SIGN_LA_CONFIRMATION)
    round_ = get_object_or_404(ReturnRound, pk=round_id, la_id=school.la_id)
    user = request.user
    initial = {
        "name": getattr(user, "full_name", ""),
        "role": "Head teacher",
        "confirmed_on": timezone.localdate(),
    }
    form = ConfirmationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.confirm_as_head_teacher(
                round_,
                school,
                moderation_done=data["moderation_done"],
                agreed=data["agreed"],
                name=data["name"],
                role=data["role"],
                confirmed_on=data["confirmed_on"],
                actor=user,
                ip=client_address(request),
            )
        except ReturnsError as error:
            _show_error(form, error)
        else:
            messages.success(
                request, f"The head teacher confirmation for {round_} was sent to {school.la.name}."
            )
            return redirect("returns:school", org_id=school.pk)
    current = Return.objects.filter(round=round_, school=school, current=True).first()
    return render(
        request,
        "returns/confirm.html",
        {"school": school, "round": round_, "form": form, "current": current},
        status=400 if request.method == "POST" else 200,
    )


def _viewable_return(request: HttpRequest, return_id: int) -> Return:
    sent = get_object_or_404(
        Return.objects.select_related("round__la", "school__la", "sent_by"), pk=return_id
    )
    if not policy.may_read_school_files(request.user, sent.school):
        raise PermissionDenied("You do not have permission to see this school's files.")
    return sent


@login_required
def return_detail(request: HttpRequest, return_id: int) -> HttpResponse:
    sent = get_object_or_404(
        Return.objects.select_related("round__la", "school__la", "sent_by"), pk=return_id
    )
    page = pages.return_page(sent, actor=request.user, ip=client_address(request))
    return render(
        request,
        "returns/return_detail.html",
        {
            "sent": sent,
            "as_la": page.as_la,
            "corrections": page.corrections,
            "back": (
                reverse("returns:round_school", args=[sent.round.la_id, sent.round_id, sent.school_id])
                if page.as_la
                else reverse("returns:school", args=[sent.school_id])
            ),
        },
    )


@login_required
def return_download(request: HttpRequest, return_id: int) -> HttpResponseBase:
    sent = _viewable_return(request, return_id)
    try:
        stored = files.open_return_file(sent, actor=request.user, ip=client_address(request))
    except ReturnsError as error:
        messages.error(request, str(error))
        return redirect("returns:return_detail", return_id=sent.pk)
    return _download(stored, sent.filename)


@login_required
def report_download(request: HttpRequest, report_id: int) -> HttpResponseBase:
    report = get_object_or_404(PublishedReport.objects.select_related("school__la"), pk=report_id)
    if not policy.may_read_school_files(request.user, report.school):
        raise PermissionDenied("You do not have permission to see this school's reports.")
    try:
        stored, kind = files.open_report_file(report, actor=request.user, ip=client_address(request))
    except ReturnsError as error:
        messages.error(request, str(error))
        return redirect("returns:school", org_id=report.school_id)
    # Served as what its content is, under a name that ends so: never as a page the browser runs.
    response = FileResponse(
        stored,
        as_attachment=True,
        filename=download_name(report.filename, kind),
        content_type=kind.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# LA side ---------------------------------------------------------------------------------------


@login_required
def la(request: HttpRequest, org_id: int) -> HttpResponse:
    la = _la(request, org_id)
    rows = pages.la_rounds(la)
    return render(request, "returns/la.html", {"la": la, "rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def open_round(request: HttpRequest, org_id: int) -> HttpResponse:
    la = _la(request, org_id)
    form = OpenRoundForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            opened = return_rounds.open_round(
                la,
                tag=data["tag"],
                year=data["year"],
                deadline=data["deadline"],
                period_starts=data["period_starts"],
                period_ends=data["period_ends"],
                summer_second_half_starts=data["summer_second_half_starts"],
                instructions=data["instructions"],
                actor=request.user,
            )
        except ReturnsError as error:
            _show_error(form, error)
        else:
            messages.success(request, f"The {opened} return is open to your schools.")
            return redirect("returns:round", org_id=la.pk, round_id=opened.pk)
    return render(
        request,
        "returns/open_round.html",
        {"la": la, "form": form},
        status=400 if request.method == "POST" else 200,
    )


@login_required
def round_page(request: HttpRequest, org_id: int, round_id: int) -> HttpResponse:
    la = _la(request, org_id)
    round_ = _round(la, round_id)
    page = pages.round_page(round_, actor=request.user, ip=client_address(request))
    return render(
        request,
        "returns/round.html",
        {
            "la": la,
            "round": round_,
            "rows": page.rows,
            "sent_count": page.sent_count,
            "confirmed_count": page.confirmed_count,
            "movers": page.movers,
        },
    )


def _round_school_page(
    request: HttpRequest,
    la: LocalAuthority,
    round_: ReturnRound,
    school: School,
    *,
    correction_form: CorrectionForm | None = None,
    publish_form: PublishForm | None = None,
    status: int = 200,
) -> HttpResponse:
    page = pages.round_school_page(round_, school, actor=request.user, ip=client_address(request))
    view = page.view
    return render(
        request,
        "returns/round_school.html",
        {
            "la": la,
            "round": round_,
            "school": school,
            "view": view,
            "history": page.history,
            "corrections": page.corrections,
            "correction_form": correction_form or CorrectionForm(),
            "publish_form": publish_form or PublishForm(),
            "being_checked": view.current is not None and view.current.being_checked,
        },
        status=status,
    )


def _school_of_round(round_: ReturnRound, school_id: int) -> School:
    return get_object_or_404(School, pk=school_id, la_id=round_.la_id)


@login_required
def round_school(request: HttpRequest, org_id: int, round_id: int, school_id: int) -> HttpResponse:
    la = _la(request, org_id)
    round_ = _round(la, round_id)
    return _round_school_page(request, la, round_, _school_of_round(round_, school_id))


def _current_return(round_: ReturnRound, school: School) -> Return:
    return get_object_or_404(Return, round=round_, school=school, current=True)


@login_required
@require_POST
def request_correction(request: HttpRequest, org_id: int, round_id: int, school_id: int) -> HttpResponse:
    la = _la(request, org_id)
    round_ = _round(la, round_id)
    school = _school_of_round(round_, school_id)
    form = CorrectionForm(request.POST)
    if form.is_valid():
        try:
            la_actions.request_correction(
                _current_return(round_, school),
                message=form.cleaned_data["message"],
                actor=request.user,
                ip=client_address(request),
            )
        except ReturnsError as error:
            _show_error(form, error)
        else:
            messages.success(request, f"{school.name} has been asked for a correction.")
            return redirect("returns:round_school", org_id=la.pk, round_id=round_.pk, school_id=school.pk)
    return _round_school_page(request, la, round_, school, correction_form=form, status=400)


@login_required
@require_POST
def accept(request: HttpRequest, org_id: int, round_id: int, school_id: int) -> HttpResponse:
    la = _la(request, org_id)
    round_ = _round(la, round_id)
    school = _school_of_round(round_, school_id)
    try:
        la_actions.accept_return(
            _current_return(round_, school), actor=request.user, ip=client_address(request)
        )
    except ReturnsError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{school.name}'s file is accepted.")
    return redirect("returns:round_school", org_id=la.pk, round_id=round_.pk, school_id=school.pk)


@login_required
@require_POST
def check_again(request: HttpRequest, org_id: int, round_id: int, school_id: int) -> HttpResponse:
    la = _la(request, org_id)
    round_ = _round(la, round_id)
    school = _school_of_round(round_, school_id)
    try:
        checks.check_again(_current_return(round_, school), actor=request.user, ip=client_address(request))
    except ReturnsError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{school.name}'s file is being checked again.")
    return redirect("returns:round_school", org_id=la.pk, round_id=round_.pk, school_id=school.pk)


@login_required
@require_POST
def publish(request: HttpRequest, org_id: int, round_id: int, school_id: int) -> HttpResponse:
    la = _la(request, org_id)
    round_ = _round(la, round_id)
    school = _school_of_round(round_, school_id)
    form = PublishForm(request.POST, request.FILES)
    if not _refuse_too_large(request, form) and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            report = la_actions.publish_report(
                round_,
                school,
                source=upload,
                filename=upload.name or "report",
                title=form.cleaned_data["title"],
                actor=request.user,
                ip=client_address(request),
            )
        except ReturnsError as error:
            _show_error(form, error)
        else:
            messages.success(request, f"“{report.title}” is published to {school.name}.")
            return redirect("returns:round_school", org_id=la.pk, round_id=round_.pk, school_id=school.pk)
    return _round_school_page(request, la, round_, school, publish_form=form, status=400)
