from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "tongban.jobs"
    label = "jobs"
    verbose_name = "后台任务与发件箱"

    def ready(self) -> None:
        # Every installed app's tasks.py registers its job tasks and outbox channels, so the web
        # process (which enqueues) and the worker (which runs) know the same names.
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("tasks")
