"""Hydra discovers this plugin by itself (the `hydra_plugins` namespace): it adds the user's config
folders ($HARNESS_CONFIG_PATH, see harness.paths) to the config search path of every composition,
the `python -m harness` entry point and harness.compose alike."""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class HarnessSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from harness.paths import user_config_dirs

        for d in user_config_dirs():
            search_path.append(provider="harness-user", path=f"file://{d}")
