"""Reconcile ecrwise estimates with the AWS bill (Data Exports, Cost Explorer). Pure: no boto3, no printing."""
