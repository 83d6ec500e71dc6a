

def test_a_hex_reference_in_groups_is_never_masked():
    """A plain hex digest sometimes holds an 11-digit run that reads as a phone number; grouped, it never does
    (the SSO audit entries' `sid` reference was masked once in a CI run)."""
    from tongban.core.masking import scrub, unmaskable_hex

    digest = "c36d14183310836c76284566"
    assert scrub(digest) != digest  # the run 14183310836 looks like a mobile number
    assert unmaskable_hex(digest) == "c36d1418.3310836c.76284566" and scrub(unmaskable_hex(digest)) == unmaskable_hex(digest)
