"""Every gabbi story, on SQLite."""
from gabbi import driver
from gabbi.driver import test_pytest  # noqa: F401 - the function gabbi parametrizes

from tests.functional import fixtures_sqlite
from tests.functional.gabbi_harness import GABBITS, intercept


def pytest_generate_tests(metafunc):
    driver.py_test_generator(str(GABBITS), intercept=intercept,
                             fixture_module=fixtures_sqlite, test_loader_name=__name__, metafunc=metafunc)
