from tests.functional.gabbi_harness import StaticTokens, StoredSurrogates, make_fixture  # noqa: F401 - named in YAML

APIFixture = make_fixture("postgres")
