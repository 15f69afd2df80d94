"""The one home of Kubernetes API calls (the official `kubernetes` client): list a cluster's pods and workload
templates, cluster-wide, read-only. The EKS collector (ecrwise.aws.eks) hands it an endpoint and a token; the
scan hands it kubeconfig contexts. It returns the API's raw JSON; ecrwise.records.kubernetes turns that into
records, the same way it turns a `kubectl get -o json` file into records. Nothing else imports this package
(pyproject's import-linter contracts)."""
