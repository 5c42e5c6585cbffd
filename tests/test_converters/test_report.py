"""ConversionReport: every source key accounted for, the per-prefix table."""
import pytest

from s5_mm.converters.report import ConversionReport, UnknownKeyError


def test_table_counts_per_prefix():
    report = ConversionReport(
        'seg-moe-mdf',
        consumed=['encoder.a', 'encoder.b', 'semseghead_x.1.weight'],
        dropped={'semsegdecoder.decode_head.conv_seg.weight': 'placeholder'},
        filled=['backbone.a', 'neck.b', 'decode_heads.x.conv_seg.weight',
                'decode_heads.x.conv_seg.bias'])
    table = report.table().splitlines()
    assert table[0] == 'kind: seg-moe-mdf'
    assert f"{'encoder':<40} {2:>9} {0:>8}" in table
    assert f"{'semseghead_x':<40} {1:>9} {0:>8}" in table
    assert f"{'semsegdecoder':<40} {0:>9} {1:>8}" in table
    assert f"{'total':<40} {3:>9} {1:>8}" in table
    assert f"{'decode_heads.x':<40} {2:>9}" in table
    assert f"{'total':<40} {4:>9}" in table
    assert '  semsegdecoder.decode_head.conv_seg.weight: placeholder' in table


def test_check_complete_names_the_unaccounted_key():
    report = ConversionReport('s4p-encoder', consumed=['a'],
                              dropped={'b': 'why'})
    report.check_complete(['a', 'b'])
    with pytest.raises(UnknownKeyError, match=r"\['c'\]"):
        report.check_complete(['a', 'b', 'c'])
    report.dropped['a'] = 'also dropped'
    with pytest.raises(ValueError, match='both converted and dropped'):
        report.check_complete(['a', 'b'])
