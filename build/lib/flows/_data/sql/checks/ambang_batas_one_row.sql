-- severity: bug. mart.ambang_batas, the thresholds, is exactly one row (a second row would double every flagged row).
select count(*) as n from mart.ambang_batas having count(*) <> 1
