"""The part of the SARIF 2.1.0 JSON schema (OASIS, errata01) that covers the objects ecrwise emits.

No package ships the official schema (about 110 KB), so this restates its constraints for sarifLog, run,
tool, toolComponent, reportingDescriptor, reportingConfiguration, multiformatMessageString, message,
result, location, logicalLocation, physicalLocation, artifactLocation, invocation, runAutomationDetails and
propertyBag: the same required properties, enums and `additionalProperties: false`, so a misspelt or
misplaced property fails validation as it would against the full schema. Properties of those objects that
ecrwise never writes are left out of the lists below, which makes this stricter than the official schema
(it would reject them), never looser for what ecrwise does write.
"""

LEVEL = {"enum": ["none", "note", "warning", "error"], "type": "string"}
PROPERTY_BAG = {"type": "object", "additionalProperties": True,
                "properties": {"tags": {"type": "array", "uniqueItems": True, "items": {"type": "string"}}}}

SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "runs"],
    "properties": {
        "$schema": {"type": "string"},
        "version": {"enum": ["2.1.0"], "type": "string"},
        "runs": {"type": ["array", "null"], "items": {"$ref": "#/definitions/run"}},
        "properties": {"$ref": "#/definitions/propertyBag"},
    },
    "definitions": {
        "propertyBag": PROPERTY_BAG,
        "multiformatMessageString": {
            "type": "object", "additionalProperties": False, "required": ["text"],
            "properties": {"text": {"type": "string"}, "markdown": {"type": "string"},
                           "properties": {"$ref": "#/definitions/propertyBag"}}},
        "message": {
            "type": "object", "additionalProperties": False,
            "properties": {"text": {"type": "string"}, "markdown": {"type": "string"}, "id": {"type": "string"},
                           "arguments": {"type": "array", "items": {"type": "string"}},
                           "properties": {"$ref": "#/definitions/propertyBag"}},
            "anyOf": [{"required": ["text"]}, {"required": ["id"]}]},
        "reportingConfiguration": {
            "type": "object", "additionalProperties": False,
            "properties": {"enabled": {"type": "boolean"}, "level": LEVEL,
                           "rank": {"type": "number", "minimum": -1.0, "maximum": 100.0},
                           "parameters": {"$ref": "#/definitions/propertyBag"},
                           "properties": {"$ref": "#/definitions/propertyBag"}}},
        "reportingDescriptor": {
            "type": "object", "additionalProperties": False, "required": ["id"],
            "properties": {
                "id": {"type": "string"}, "name": {"type": "string"},
                "shortDescription": {"$ref": "#/definitions/multiformatMessageString"},
                "fullDescription": {"$ref": "#/definitions/multiformatMessageString"},
                "help": {"$ref": "#/definitions/multiformatMessageString"},
                "helpUri": {"type": "string", "format": "uri"},
                "defaultConfiguration": {"$ref": "#/definitions/reportingConfiguration"},
                "properties": {"$ref": "#/definitions/propertyBag"}}},
        "toolComponent": {
            "type": "object", "additionalProperties": False, "required": ["name"],
            "properties": {
                "name": {"type": "string"}, "version": {"type": "string"}, "semanticVersion": {"type": "string"},
                "informationUri": {"type": "string", "format": "uri"},
                "rules": {"type": "array", "uniqueItems": True, "items": {"$ref": "#/definitions/reportingDescriptor"}},
                "properties": {"$ref": "#/definitions/propertyBag"}}},
        "tool": {
            "type": "object", "additionalProperties": False, "required": ["driver"],
            "properties": {"driver": {"$ref": "#/definitions/toolComponent"},
                           "properties": {"$ref": "#/definitions/propertyBag"}}},
        "artifactLocation": {
            "type": "object", "additionalProperties": False,
            "properties": {"uri": {"type": "string", "format": "uri-reference"}, "uriBaseId": {"type": "string"},
                           "index": {"type": "integer", "minimum": -1},
                           "properties": {"$ref": "#/definitions/propertyBag"}}},
        "physicalLocation": {
            "type": "object", "additionalProperties": False,
            "properties": {"artifactLocation": {"$ref": "#/definitions/artifactLocation"},
                           "properties": {"$ref": "#/definitions/propertyBag"}},
            "anyOf": [{"required": ["address"]}, {"required": ["artifactLocation"]}]},
        "logicalLocation": {
            "type": "object", "additionalProperties": False,
            "properties": {"name": {"type": "string"}, "index": {"type": "integer", "minimum": -1},
                           "fullyQualifiedName": {"type": "string"}, "decoratedName": {"type": "string"},
                           "parentIndex": {"type": "integer", "minimum": -1}, "kind": {"type": "string"},
                           "properties": {"$ref": "#/definitions/propertyBag"}}},
        "location": {
            "type": "object", "additionalProperties": False,
            "properties": {"id": {"type": "integer", "minimum": -1},
                           "physicalLocation": {"$ref": "#/definitions/physicalLocation"},
                           "logicalLocations": {"type": "array", "uniqueItems": True,
                                                "items": {"$ref": "#/definitions/logicalLocation"}},
                           "message": {"$ref": "#/definitions/message"},
                           "properties": {"$ref": "#/definitions/propertyBag"}}},
        "result": {
            "type": "object", "additionalProperties": False, "required": ["message"],
            "properties": {
                "ruleId": {"type": "string"}, "ruleIndex": {"type": "integer", "minimum": -1},
                "kind": {"enum": ["notApplicable", "pass", "fail", "review", "open", "informational"]},
                "level": LEVEL, "message": {"$ref": "#/definitions/message"},
                "locations": {"type": "array", "items": {"$ref": "#/definitions/location"}},
                "partialFingerprints": {"type": "object", "additionalProperties": {"type": "string"}},
                "fingerprints": {"type": "object", "additionalProperties": {"type": "string"}},
                "rank": {"type": "number", "minimum": -1.0, "maximum": 100.0},
                "properties": {"$ref": "#/definitions/propertyBag"}}},
        "invocation": {
            "type": "object", "additionalProperties": False, "required": ["executionSuccessful"],
            "properties": {"executionSuccessful": {"type": "boolean"},
                           "startTimeUtc": {"type": "string", "format": "date-time"},
                           "endTimeUtc": {"type": "string", "format": "date-time"},
                           "properties": {"$ref": "#/definitions/propertyBag"}}},
        "runAutomationDetails": {
            "type": "object", "additionalProperties": False,
            "properties": {"id": {"type": "string"}, "guid": {"type": "string"},
                           "properties": {"$ref": "#/definitions/propertyBag"}}},
        "run": {
            "type": "object", "additionalProperties": False, "required": ["tool"],
            "properties": {
                "tool": {"$ref": "#/definitions/tool"},
                "invocations": {"type": "array", "items": {"$ref": "#/definitions/invocation"}},
                "automationDetails": {"$ref": "#/definitions/runAutomationDetails"},
                "results": {"type": ["array", "null"], "items": {"$ref": "#/definitions/result"}},
                "properties": {"$ref": "#/definitions/propertyBag"}}},
    },
}
