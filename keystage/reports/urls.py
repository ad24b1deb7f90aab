from django.urls import path

from keystage.reports import views

app_name = "reports"

_AT = "reports/<id:org_id>/<str:key_stage>/<int:year>/"
urlpatterns = [
    path("reports/", views.index, name="index"),
    path("reports/glossary/", views.glossary, name="glossary"),
    path("reports/downloads/<id:export_id>/", views.export, name="export"),
    path("reports/downloads/<id:export_id>/file/", views.export_download, name="export_download"),
    path(_AT, views.dashboard, name="dashboard"),
    path(_AT + "explore/", views.explore, name="explore"),
    path(_AT + "scatter/", views.scatter, name="scatter"),
    path(_AT + "schools/", views.schools, name="schools"),
    path(_AT + "subjects/", views.subjects, name="subjects"),
    path(_AT + "inspection/", views.inspection, name="inspection"),
    path(_AT + "summaries/", views.summaries, name="summaries"),
    path(_AT + "summaries/publish/", views.publish_summaries, name="publish_summaries"),
    path(_AT + "pupils/", views.pupils, name="pupils"),
    path(_AT + "pupils/<str:upn>/", views.pupil, name="pupil"),
]
