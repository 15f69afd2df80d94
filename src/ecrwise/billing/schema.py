"""The two AWS Data Exports tables ecrwise reads, and how their line items map onto one schema. Pure.

Column names and types are those of AWS's data dictionaries:
- CUR 2.0: https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2.html and its column pages
  (e.g. .../table-dictionary-cur2-identity.html, -pricing.html, -product.html). Timestamps are `timestamp`,
  costs and amounts `double`, `product`, `resource_tags` and `cost_category` `map<string,string>`.
- FOCUS 1.2 with AWS columns:
  https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-focus-1-2-aws-columns.html
  (BilledCost/EffectiveCost `double`, ChargePeriodStart/BillingPeriodStart `timestamp_milliseconds`,
  the AWS-specific `x_UsageType`, `x_Operation`, `x_ServiceCode` strings).

Only the columns listed here are read; an export may carry more (CUR 2.0 has ~125 static columns) or be a
custom query over a subset, so the importer only checks that the ones it needs are present.
"""
from __future__ import annotations

import re

from ecrwise.pricing.usage_types import REGION_PREFIX, usage_family  # noqa: F401  (re-exported)

CUR2 = "cur2"
FOCUS12 = "focus1.2"

# name -> DuckDB type, as the CUR 2.0 data dictionary types them. The generator writes exactly these.
CUR2_COLUMNS: dict[str, str] = {
    "bill_bill_type": "VARCHAR",
    "bill_billing_entity": "VARCHAR",
    "bill_billing_period_end_date": "TIMESTAMP",
    "bill_billing_period_start_date": "TIMESTAMP",
    "bill_invoice_id": "VARCHAR",
    "bill_invoicing_entity": "VARCHAR",
    "bill_payer_account_id": "VARCHAR",
    "bill_payer_account_name": "VARCHAR",
    "cost_category": "MAP(VARCHAR, VARCHAR)",
    "discount": "MAP(VARCHAR, DOUBLE)",
    "identity_line_item_id": "VARCHAR",
    "identity_time_interval": "VARCHAR",
    "line_item_availability_zone": "VARCHAR",
    "line_item_blended_cost": "DOUBLE",
    "line_item_blended_rate": "VARCHAR",
    "line_item_currency_code": "VARCHAR",
    "line_item_legal_entity": "VARCHAR",
    "line_item_line_item_description": "VARCHAR",
    "line_item_line_item_type": "VARCHAR",
    "line_item_net_unblended_cost": "DOUBLE",
    "line_item_net_unblended_rate": "VARCHAR",
    "line_item_normalization_factor": "DOUBLE",
    "line_item_normalized_usage_amount": "DOUBLE",
    "line_item_operation": "VARCHAR",
    "line_item_product_code": "VARCHAR",
    "line_item_resource_id": "VARCHAR",
    "line_item_tax_type": "VARCHAR",
    "line_item_unblended_cost": "DOUBLE",
    "line_item_unblended_rate": "VARCHAR",
    "line_item_usage_account_id": "VARCHAR",
    "line_item_usage_account_name": "VARCHAR",
    "line_item_usage_amount": "DOUBLE",
    "line_item_usage_end_date": "TIMESTAMP",
    "line_item_usage_start_date": "TIMESTAMP",
    "line_item_usage_type": "VARCHAR",
    "pricing_currency": "VARCHAR",
    "pricing_public_on_demand_cost": "DOUBLE",
    "pricing_public_on_demand_rate": "VARCHAR",
    "pricing_rate_code": "VARCHAR",
    "pricing_rate_id": "VARCHAR",
    "pricing_term": "VARCHAR",
    "pricing_unit": "VARCHAR",
    "product": "MAP(VARCHAR, VARCHAR)",
    "product_from_location": "VARCHAR",
    "product_location": "VARCHAR",
    "product_product_family": "VARCHAR",
    "product_region_code": "VARCHAR",
    "product_servicecode": "VARCHAR",
    "product_sku": "VARCHAR",
    "product_to_location": "VARCHAR",
    "resource_tags": "MAP(VARCHAR, VARCHAR)",
}

FOCUS12_COLUMNS: dict[str, str] = {
    "AvailabilityZone": "VARCHAR",
    "BilledCost": "DOUBLE",
    "BillingAccountId": "VARCHAR",
    "BillingAccountName": "VARCHAR",
    "BillingAccountType": "VARCHAR",
    "BillingCurrency": "VARCHAR",
    "BillingPeriodEnd": "TIMESTAMP_MS",
    "BillingPeriodStart": "TIMESTAMP_MS",
    "ChargeCategory": "VARCHAR",
    "ChargeClass": "VARCHAR",
    "ChargeDescription": "VARCHAR",
    "ChargeFrequency": "VARCHAR",
    "ChargePeriodEnd": "TIMESTAMP_MS",
    "ChargePeriodStart": "TIMESTAMP_MS",
    "ConsumedQuantity": "DOUBLE",
    "ConsumedUnit": "VARCHAR",
    "ContractedCost": "DOUBLE",
    "ContractedUnitPrice": "DOUBLE",
    "EffectiveCost": "DOUBLE",
    "InvoiceIssuerName": "VARCHAR",
    "ListCost": "DOUBLE",
    "ListUnitPrice": "DOUBLE",
    "PricingCategory": "VARCHAR",
    "PricingQuantity": "DOUBLE",
    "PricingUnit": "VARCHAR",
    "ProviderName": "VARCHAR",
    "PublisherName": "VARCHAR",
    "RegionId": "VARCHAR",
    "RegionName": "VARCHAR",
    "ResourceId": "VARCHAR",
    "ResourceName": "VARCHAR",
    "ResourceType": "VARCHAR",
    "ServiceCategory": "VARCHAR",
    "ServiceName": "VARCHAR",
    "SkuId": "VARCHAR",
    "SkuPriceId": "VARCHAR",
    "SubAccountId": "VARCHAR",
    "SubAccountName": "VARCHAR",
    "Tags": "MAP(VARCHAR, VARCHAR)",
    "x_CostCategories": "MAP(VARCHAR, VARCHAR)",
    "x_Discounts": "MAP(VARCHAR, DOUBLE)",
    "x_Operation": "VARCHAR",
    "x_ServiceCode": "VARCHAR",
    "x_UsageType": "VARCHAR",
}

# What each form must carry for ecrwise to use it.
CUR2_REQUIRED = ("bill_billing_period_start_date", "bill_payer_account_id", "line_item_usage_account_id",
                 "line_item_line_item_type", "line_item_product_code", "line_item_usage_type",
                 "line_item_resource_id", "line_item_usage_amount", "line_item_unblended_cost",
                 "line_item_usage_start_date", "line_item_usage_end_date", "pricing_unit",
                 "product_region_code")
FOCUS12_REQUIRED = ("BillingPeriodStart", "BillingAccountId", "SubAccountId", "ChargeCategory", "x_ServiceCode",
                    "x_UsageType", "ResourceId", "ConsumedQuantity", "BilledCost", "ChargePeriodStart",
                    "ChargePeriodEnd", "PricingUnit", "RegionId")


def detect_format(columns: list[str]) -> str | None:
    cols = set(columns)
    if "line_item_usage_type" in cols:
        return CUR2
    if "BilledCost" in cols and "ChargeCategory" in cols:
        return FOCUS12
    return None


def missing_columns(fmt: str, columns: list[str]) -> list[str]:
    need = CUR2_REQUIRED if fmt == CUR2 else FOCUS12_REQUIRED
    return [c for c in need if c not in set(columns)]


# -- usage types ------------------------------------------------------------------------------------------
# Usage types' region prefixes (`USE1-`, `EUC1-`, `EU-`, none for some us-east-1 types) are stripped by
# `pricing.usage_types.usage_family`, which the Price List parser shares. The families below are those AWS
# bills these resources under (ECR pricing: https://aws.amazon.com/ecr/pricing/, VPC/NAT/IPv4 pricing:
# https://aws.amazon.com/vpc/pricing/, PrivateLink: https://aws.amazon.com/privatelink/pricing/); Cost Explorer
# groups by the same values (USAGE_TYPE dimension,
# https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_GetDimensionValues.html).

CORE_CATEGORIES = ("ecr_storage", "ecr_data_transfer", "ecr_other", "nat_hours", "nat_bytes", "vpce_hours",
                   "vpce_bytes", "public_ipv4")
# Kept only for accounts that have some core line in the same billing period.
CONTEXT_CATEGORIES = ("s3", "data_transfer")


def category(service_code: str | None, usage_type: str | None) -> str | None:
    """The Python twin of CATEGORY_SQL (used by tests and Cost Explorer parsing)."""
    fam = usage_family(usage_type)
    if service_code == "AmazonECR":
        if fam.startswith("TimedStorage"):
            return "ecr_storage"
        if "Bytes" in fam:
            return "ecr_data_transfer"
        return "ecr_other"
    if fam == "NatGateway-Hours":
        return "nat_hours"
    if fam == "NatGateway-Bytes":
        return "nat_bytes"
    if fam == "VpcEndpoint-Hours":
        return "vpce_hours"
    if fam == "VpcEndpoint-Bytes":
        return "vpce_bytes"
    if fam.startswith("PublicIPv4:"):
        return "public_ipv4"
    if service_code == "AmazonS3":
        return "s3"
    if fam.startswith("DataTransfer-") or re.search(r"(?:^|-)AWS-(?:Out|In)-Bytes$", fam):
        return "data_transfer"
    return None


def category_sql(service: str, usage_type: str) -> str:
    """SQL expression computing `category` from two column expressions; must agree with `category()`."""
    fam = f"regexp_replace(coalesce({usage_type}, ''), '{REGION_PREFIX}', '')"
    return f"""CASE
        WHEN {service} = 'AmazonECR' AND starts_with({fam}, 'TimedStorage') THEN 'ecr_storage'
        WHEN {service} = 'AmazonECR' AND contains({fam}, 'Bytes') THEN 'ecr_data_transfer'
        WHEN {service} = 'AmazonECR' THEN 'ecr_other'
        WHEN {fam} = 'NatGateway-Hours' THEN 'nat_hours'
        WHEN {fam} = 'NatGateway-Bytes' THEN 'nat_bytes'
        WHEN {fam} = 'VpcEndpoint-Hours' THEN 'vpce_hours'
        WHEN {fam} = 'VpcEndpoint-Bytes' THEN 'vpce_bytes'
        WHEN starts_with({fam}, 'PublicIPv4:') THEN 'public_ipv4'
        WHEN {service} = 'AmazonS3' THEN 's3'
        WHEN starts_with({fam}, 'DataTransfer-') OR regexp_matches({fam}, '(?:^|-)AWS-(?:Out|In)-Bytes$')
            THEN 'data_transfer'
        ELSE NULL END"""


# -- kinds of charge --------------------------------------------------------------------------------------
# CUR line item types (https://docs.aws.amazon.com/cur/latest/userguide/Lineitem-columns.html, LineItemType): Usage, DiscountedUsage,
# SavingsPlanCoveredUsage, Credit, Refund, Discount, BundledDiscount, EdpDiscount, PrivateRateDiscount,
# Tax, Fee, RIFee, SavingsPlan* ... FOCUS ChargeCategory (FOCUS 1.2 columns page): Usage, Purchase, Tax, Credit,
# Adjustment. Usage priced at zero (a free-tier tier of the rate) is `free_tier`, so it shows apart from usage.
CUR2_KIND_SQL = """CASE
    WHEN line_item_line_item_type IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage')
        THEN CASE WHEN CAST(line_item_unblended_cost AS DOUBLE) = 0 AND CAST(line_item_usage_amount AS DOUBLE) > 0
                  THEN 'free_tier' ELSE 'usage' END
    WHEN line_item_line_item_type IN ('Credit', 'Refund') THEN 'credit'
    WHEN line_item_line_item_type ILIKE '%Discount%' THEN 'discount'
    WHEN line_item_line_item_type = 'Tax' THEN 'tax'
    ELSE 'other' END"""
FOCUS12_KIND_SQL = """CASE
    WHEN ChargeCategory = 'Usage'
        THEN CASE WHEN CAST(BilledCost AS DOUBLE) = 0 AND CAST(ConsumedQuantity AS DOUBLE) > 0
                  THEN 'free_tier' ELSE 'usage' END
    WHEN ChargeCategory = 'Credit' THEN 'credit'
    WHEN ChargeCategory = 'Adjustment' THEN 'discount'
    WHEN ChargeCategory = 'Tax' THEN 'tax'
    ELSE 'other' END"""

LINE_ITEMS_DDL = """CREATE TABLE IF NOT EXISTS billing_line_items (
    source_format VARCHAR NOT NULL,
    billing_period VARCHAR NOT NULL,      -- YYYY-MM of the billing period's start
    payer_account VARCHAR,
    account VARCHAR,                      -- line_item_usage_account_id / SubAccountId
    charge_type VARCHAR,                  -- line_item_line_item_type / ChargeCategory as exported
    kind VARCHAR NOT NULL,                -- usage | free_tier | credit | discount | tax | other
    service_code VARCHAR,                 -- line_item_product_code / x_ServiceCode
    usage_type VARCHAR,
    usage_family VARCHAR,                 -- usage_type without its region prefix
    category VARCHAR NOT NULL,
    operation VARCHAR,
    region VARCHAR,
    resource_id VARCHAR,
    resource_name VARCHAR,                -- repository name, nat-…, vpce-…: the ARN's last part
    usage_start TIMESTAMP,
    usage_end TIMESTAMP,
    usage_amount DOUBLE,
    pricing_unit VARCHAR,
    cost_usd DOUBLE,                      -- line_item_unblended_cost / BilledCost
    imported_at TIMESTAMP NOT NULL
)"""

IMPORTS_DDL = """CREATE TABLE IF NOT EXISTS billing_imports (
    billing_period VARCHAR NOT NULL,
    source_format VARCHAR NOT NULL,
    files VARCHAR[] NOT NULL,
    manifest VARCHAR,
    execution_id VARCHAR,
    rows_kept BIGINT NOT NULL,
    imported_at TIMESTAMP NOT NULL
)"""
