-- Every date from the earliest to the latest log date of any loaded file: one row per tanggal.
with loaded as (
    select log_date from staging.file_loads where kind = 'rekam' and status = 'loaded'
),

bounds as (
    select min(log_date) as first_date, max(log_date) as last_date from loaded
),

final as (
    select cast(d.generate_series as date) as tanggal
    from bounds,
         generate_series(bounds.first_date, bounds.last_date, interval 1 day) as d
    where bounds.first_date is not null
)

select * from final
