"""A points card as PMML 4.4: the Data Mining Group's standard for scorecards.

PMML's ``Scorecard`` model is exactly this card: an initial score plus, per characteristic
(input), the partial score of the first attribute (bin) whose predicate holds. Decision
engines and scoring servers that take PMML (JPMML, PyPMML, SAS, KNIME, many rule engines) run
it without Python. Predicates follow :meth:`delinq.models.binning.ColumnBins.bin_of` in order:
missing, each special value, each cut from the lowest, then a catch-all.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from delinq.models.binning import OTHER
from delinq.models.points_card import PointsCard

NS = "http://www.dmg.org/PMML-4_4"
SCORE_FIELD = "points"


def _predicate(parent: ET.Element, field: str, operator: str, value=None) -> None:
    attrs = {"field": field, "operator": operator}
    if value is not None:
        attrs["value"] = repr(float(value)) if not isinstance(value, str) else value
    ET.SubElement(parent, "SimplePredicate", attrs)


def _attribute(characteristic: ET.Element, points: int) -> ET.Element:
    return ET.SubElement(characteristic, "Attribute", {"partialScore": str(int(points))})


def scorecard_pmml(card: PointsCard, model_name: str = "delinq scorecard") -> str:
    """The PMML document of ``card``; its output field ``points`` is the card's score."""
    ET.register_namespace("", NS)
    root = ET.Element("PMML", {"xmlns": NS, "version": "4.4"})
    ET.SubElement(root, "Header", {"description": f"{model_name}: points per input and bin"})
    dictionary = ET.SubElement(root, "DataDictionary")
    for col in card.points:
        numeric = card.woe.bins_[col].kind == "numeric"
        ET.SubElement(
            dictionary,
            "DataField",
            {
                "name": col,
                "optype": "continuous" if numeric else "categorical",
                "dataType": "double" if numeric else "string",
            },
        )
    model = ET.SubElement(
        root,
        "Scorecard",
        {
            "modelName": model_name,
            "functionName": "regression",
            "useReasonCodes": "false",
            "initialScore": str(int(card.base)),
        },
    )
    schema = ET.SubElement(model, "MiningSchema")
    for col in card.points:
        # asIs: a missing value reaches the characteristic, whose isMissing attribute scores it.
        ET.SubElement(
            schema,
            "MiningField",
            {"name": col, "usageType": "active", "missingValueTreatment": "asIs"},
        )
    output = ET.SubElement(model, "Output")
    ET.SubElement(
        output,
        "OutputField",
        {
            "name": SCORE_FIELD,
            "feature": "predictedValue",
            "dataType": "double",
            "optype": "continuous",
        },
    )
    characteristics = ET.SubElement(model, "Characteristics")
    for col, pts in card.points.items():
        bins = card.woe.bins_[col]
        n_reg = bins.n_regular
        node = ET.SubElement(characteristics, "Characteristic", {"name": f"{col}_points"})
        _predicate(_attribute(node, pts[n_reg + len(bins.specials)]), col, "isMissing")
        if bins.kind == "numeric":
            for i, value in enumerate(bins.specials):
                _predicate(_attribute(node, pts[n_reg + i]), col, "equal", value)
            for k, cut in enumerate(bins.cuts):
                _predicate(_attribute(node, pts[k]), col, "lessThan", cut)
            fallback = pts[n_reg - 1]
        else:
            for k, level in enumerate(bins.levels):
                if level != OTHER:
                    _predicate(_attribute(node, pts[k]), col, "equal", level)
            other = bins.levels.index(OTHER) if OTHER in bins.levels else n_reg + len(bins.specials)
            fallback = pts[other]
        ET.SubElement(_attribute(node, fallback), "True")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
