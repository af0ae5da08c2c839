from qganeti import errors


def test_encode_decode_round_trip_keeps_class_and_args():
    err = errors.OpPrereqError("Instance 'x' not known", errors.ECODE_NOENT)
    wire = errors.encode(err)
    assert wire == ["OpPrereqError", ["Instance 'x' not known", "unknown_entity"]]
    back = errors.decode(wire)
    assert isinstance(back, errors.OpPrereqError)
    assert back.args == err.args


def test_decode_refuses_non_error_values():
    assert errors.decode(["dict", []]) is None
    assert errors.decode("text") is None


def test_format_error_words_prereq_failures_like_ganeti():
    code, text = errors.format_error(errors.OpPrereqError("bad", errors.ECODE_INVAL))
    assert code == 1
    assert text == ("Failure: prerequisites not met for this operation:\n"
                    "error type: wrong_input, error details:\nbad")
