-- severity: bug. mart.backlog has one row per as_of_date x kode_desa.
select as_of_date, kode_desa, count(*) as n from mart.backlog group by all having count(*) > 1
