#!/usr/bin/env bash
# The FinOps playbook's approach (seed 002), as a shell loop: one `aws` process per repository summing
# DescribeImages' imageSizeInBytes. Used by scan_bench.py as the baseline. Usage: playbook_sizes.sh REGION [LIMIT]
set -euo pipefail
region=$1
limit=${2:-1000000}
echo "Repositories,Size,Expected Cost"
for repo in $(aws ecr describe-repositories --region "$region" --query 'repositories[].repositoryName' \
                --output text | tr '\t' '\n' | head -n "$limit"); do
  size=$(aws ecr describe-images --region "$region" --repository-name "$repo" \
           --query 'sum(imageDetails[].imageSizeInBytes)' --output text)
  awk -v r="$repo" -v s="$size" 'BEGIN { mb = int(s / 1048576); printf "%s,%d MB,%.2f\n", r, mb, mb / 1024 * 0.10 }'
done
