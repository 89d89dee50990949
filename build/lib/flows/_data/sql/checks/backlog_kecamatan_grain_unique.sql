-- severity: bug. mart.backlog_kecamatan has one row per as_of_date x kode_kecamatan.
select as_of_date, kode_kecamatan, count(*) as n from mart.backlog_kecamatan group by all having count(*) > 1
