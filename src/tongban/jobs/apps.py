from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "tongban.jobs"
    label = "jobs"
    verbose_name = "后台任务与发件箱"
