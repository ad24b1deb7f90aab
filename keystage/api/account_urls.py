from django.urls import URLPattern

app_name = "api_tokens"

urlpatterns: list[URLPattern] = []
