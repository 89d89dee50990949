-- severity: bug. participation_trend and log_completeness hold all 19 kecamatan on every date of the range.
with spine as (select tanggal from core.date_spine),
counts as (
    select spine.tanggal,
        (select count(*) from mart.participation_trend p where p.tanggal = spine.tanggal) as n_trend,
        (select count(*) from mart.log_completeness c where c.tanggal = spine.tanggal) as n_completeness
    from spine
)
select * from counts where n_trend <> 19 or n_completeness <> 19
