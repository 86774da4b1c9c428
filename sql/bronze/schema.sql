-- Bronze: raw facts as they arrived, typed, with lineage. Portable DDL
-- (varchar/bigint/double, see sql/portable-sql.md).

create table if not exists bronze_transactions (
    transaction_id varchar(64) not null primary key,
    created_at_epoch bigint not null,          -- UTC epoch seconds
    customer_id varchar(32),                   -- the payer; NULL: none named
    payer_type varchar(2),                     -- PF / PJ; NULL: not exported
    channel varchar(8) not null,               -- pix, credit, debit, boleto
    amount_cents bigint not null,
    payee_id varchar(64),                      -- customer or merchant id
    payee_type varchar(2),                     -- PF / PJ
    is_same_owner bigint,                      -- 1: between own accounts
    merchant_id varchar(64),
    category varchar(32),
    card_id varchar(64),
    entry_mode varchar(16),                    -- present / not_present
    auth_status varchar(16),                   -- approved / declined
    device_id varchar(64),
    device_first_seen_epoch bigint,
    bairro varchar(64),
    lat double,
    lon double,
    source varchar(256) not null,              -- generator:seed=42, file name
    batch_id varchar(64) not null,
    ingested_at varchar(32) not null,          -- ISO-8601 UTC
    source_amount varchar(32),                 -- as a mapped source wrote it
    source_currency varchar(3)                 -- ISO 4217; NULL: reais as given
);

-- The incremental refresh reads the rows of the customers, cards and
-- devices a drop touches through these (ssa/engines/incremental.py). Single
-- columns on purpose: with (customer_id, time) SQLite walked the index to
-- feed the Silver windows, a random read per row, slower than one sort;
-- earlier warehouses may still have that one.
drop index if exists bronze_transactions_customer_time;
create index if not exists bronze_transactions_customer
on bronze_transactions (customer_id);
create index if not exists bronze_transactions_card
on bronze_transactions (card_id);
create index if not exists bronze_transactions_device
on bronze_transactions (device_id);
-- The refresh after a drop starts from the drop's batch.
create index if not exists bronze_transactions_batch
on bronze_transactions (batch_id);

create table if not exists bronze_customers (
    customer_id varchar(32) not null primary key,
    name varchar(128) not null,
    cpf varchar(14) not null,
    home_bairro varchar(64) not null,
    work_bairro varchar(64) not null,
    monthly_income double not null,
    credit_score bigint not null,
    night_start_hour bigint not null,          -- 20 or 22 (IN BCB 185/2021)
    night_limit_cents bigint not null,         -- Res. BCB 142/2021
    source varchar(256) not null,
    batch_id varchar(64) not null,
    ingested_at varchar(32) not null
);

create table if not exists bronze_merchants (
    merchant_id varchar(32) not null primary key,
    name varchar(128) not null,
    cnpj varchar(18) not null,
    category varchar(32) not null,
    mcc varchar(4) not null,
    bairro varchar(64) not null,
    source varchar(256) not null,
    batch_id varchar(64) not null,
    ingested_at varchar(32) not null
);

-- Planted labels. Only the evaluation reads this table, never detection.
create table if not exists ground_truth_labels (
    transaction_id varchar(64) not null primary key,
    scenario varchar(64) not null,
    is_fraud bigint not null
);

-- Reported fraud: chargebacks, MED reports, an analyst's verdict. Labels
-- reach a bank late and apart from the transactions, from a source's label
-- column or a labels file; only the evaluation and the model training read
-- this table, never detection. The latest report of a transaction wins.
create table if not exists reported_labels (
    transaction_id varchar(64) not null primary key,
    is_fraud bigint not null,                  -- 1 fraud, 0 confirmed legitimate
    fraud_type varchar(64),                    -- as the reporter named it
    reported_at_epoch bigint,                  -- when it was reported, if known
    source varchar(256) not null,              -- source mapping or labels file
    batch_id varchar(64) not null,
    ingested_at varchar(32) not null
);

-- A mapped source's own columns that its mapping declares as features
-- (sources/<name>.yaml: features), as one JSON object per transaction:
-- numbers as numbers, categories as text, a missing value left out. Written
-- with the Bronze row, in the same transaction, for the rows that loaded;
-- only the risk model reads it (training and scoring), never detection.
create table if not exists bronze_source_features (
    transaction_id varchar(64) not null primary key,
    source varchar(256) not null,              -- the file, as in Bronze
    batch_id varchar(64) not null,
    features_json varchar(16384) not null      -- at most 64 short features
);

-- The risk model's verdict on each transaction (ssa/risk/model_scoring.py), written
-- between Silver and Gold when a trained model exists and empty when none
-- does; gold_transaction_risk combines it with the rules. Not detection
-- input from labels: the model file was trained apart (flows/train.py), and
-- this table holds only what it says about each row's features.
create table if not exists gold_model_scores (
    transaction_id varchar(64) not null primary key,
    model_version bigint not null,
    model_probability double not null,
    model_reasons varchar(512)                 -- top contributions, in words
);

-- What each rules score meant in fraud over the scoring model's training
-- period (its file's rules_calibration), written with the model's scores
-- and empty without a model: with one, gold_transaction_risk puts the rules
-- on the model's scale, the probability.
create table if not exists gold_rule_probabilities (
    rules_score bigint not null primary key,
    probability double not null
);

-- What Silver's and Gold's tables were last built whole from: a digest of
-- each layer's SQL as rendered, its models' entries and the parameter
-- values they bind (ssa/engines/incremental.py). A refresh after a drop
-- recomputes only some rows, which is right only on tables the same SQL
-- and settings made; after an upgrade or a changed threshold the next
-- refresh of that layer is a full one.
create table if not exists warehouse_builds (
    layer varchar(16) not null primary key,
    fingerprint varchar(64) not null
);
