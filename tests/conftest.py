pytest_plugins = ["migrator.testing"]
