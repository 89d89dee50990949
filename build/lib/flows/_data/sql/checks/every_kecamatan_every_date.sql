-- severity: bug. participation_trend and log_completeness hold every kecamatan of the reference list (core.kecamatan) on every date of the range.
with spine as (select tanggal from core.date_spine),
expected as (select count(*) as n from core.kecamatan),
counts as (
    select spine.tanggal,
        (select count(*) from mart.participation_trend p where p.tanggal = spine.tanggal) as n_trend,
        (select count(*) from mart.log_completeness c where c.tanggal = spine.tanggal) as n_completeness
    from spine
)
select counts.* from counts, expected where n_trend <> expected.n or n_completeness <> expected.n
