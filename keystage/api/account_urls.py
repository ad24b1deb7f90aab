from django.urls import path

from keystage.api import pages

app_name = "api_tokens"

urlpatterns = [
    path("api-tokens/", pages.token_list, name="list"),
    path("api-tokens/new/", pages.create_token, name="create"),
    path("api-tokens/<id:token_id>/revoke/", pages.revoke_token, name="revoke"),
]
