"""Which functions a Sigma query may call: Trino's, plus Stripe's own Sigma helpers.

A call to any other name fails as Trino fails it (``Function 'strftime' not registered``), even
when DuckDB, which runs the query here, has a function of that name. A Trino function that the
emulator cannot run fails later with a message that says so (see ``errors.translate_duckdb``).
"""

from __future__ import annotations

__all__ = ["STRIPE_SIGMA_FUNCTIONS", "TRINO_FUNCTIONS", "is_registered", "names"]


def names(text: str) -> tuple[str, ...]:
    """The words of ``text``: long name lists read better as one string."""
    return tuple(text.split())


# Every function on Trino's "List of functions and operators"
# (https://trino.io/docs/current/functions/list.html), grouped by the topic page that documents it.
# fmt: off
TRINO_FUNCTIONS: frozenset[str] = frozenset(
    names(
    # functions/aggregate.html
    "any_value approx_distinct approx_most_frequent approx_percentile approx_set arbitrary array_agg "
    "avg bitwise_and_agg bitwise_or_agg bool_and bool_or checksum corr count count_if "
    "covar_pop covar_samp every geometric_mean histogram kurtosis listagg map_agg map_union max max_by "
    "merge min min_by multimap_agg numeric_histogram qdigest_agg reduce_agg regr_intercept regr_slope "
    "skewness stddev stddev_pop stddev_samp sum tdigest_agg var_pop var_samp variance "
    # functions/array.html
    "all_match any_match array_distinct array_except array_first array_histogram array_intersect "
    "array_join array_last array_max array_min array_position array_remove array_sort array_union "
    "arrays_overlap cardinality combinations contains contains_sequence element_at filter flatten "
    "ngrams none_match reduce repeat reverse sequence shuffle slice trim_array transform zip zip_with "
    "cosine_distance cosine_similarity "
    # functions/comparison.html, conditional.html
    "greatest least coalesce if nullif try "
    # functions/conversion.html
    "cast try_cast format parse_data_size typeof "
    # functions/datetime.html
    "at_timezone current_timezone date date_add date_diff date_trunc day day_of_month day_of_week "
    "day_of_year dow doy extract format_datetime from_iso8601_date from_iso8601_timestamp "
    "from_iso8601_timestamp_nanos from_unixtime from_unixtime_nanos hour human_readable_seconds "
    "last_day_of_month millisecond minute month now parse_datetime parse_duration quarter second "
    "timezone timezone_hour timezone_minute to_iso8601 to_milliseconds to_unixtime week week_of_year "
    "with_timezone year year_of_week yow current_date current_time current_timestamp localtime "
    "localtimestamp "
    # functions/mysql-date-functions.html (the MySQL-style patterns)
    "date_format date_parse "
    # functions/teradata.html
    "char2hexint index to_char to_date to_timestamp "
    # functions/json.html
    "is_json_scalar json_array_contains json_array_get json_array_length json_extract "
    "json_extract_scalar json_format json_parse json_size json_exists json_query json_value "
    "json_array json_object json_scalar "
    # functions/map.html
    "map map_concat map_entries map_filter map_from_entries map_keys map_values map_zip_with "
    "multimap_from_entries transform_keys transform_values "
    # functions/math.html
    "abs acos asin atan atan2 beta_cdf cbrt ceil ceiling cos cosh degrees e exp floor from_base "
    "infinity inverse_beta_cdf inverse_normal_cdf is_finite is_infinite is_nan ln log log10 log2 mod "
    "nan normal_cdf pi pow power radians rand random round sign sin sinh sqrt tan tanh to_base "
    "truncate width_bucket wilson_interval_lower wilson_interval_upper "
    # functions/bitwise.html
    "bit_count bitwise_and bitwise_left_shift bitwise_not bitwise_or bitwise_right_shift "
    "bitwise_right_shift_arithmetic bitwise_xor "
    # functions/string.html
    "chr codepoint concat concat_ws hamming_distance length levenshtein_distance lower lpad ltrim "
    "luhn_check normalize position replace rpad rtrim soundex split split_part split_to_map "
    "split_to_multimap starts_with strpos substr substring to_utf8 from_utf8 translate trim upper "
    "word_stem title_case "
    # functions/regexp.html
    "regexp_count regexp_extract regexp_extract_all regexp_like regexp_position regexp_replace "
    "regexp_split "
    # functions/binary.html
    "crc32 from_base32 from_base64 from_base64url from_big_endian_32 from_big_endian_64 from_hex "
    "from_ieee754_32 from_ieee754_64 hmac_md5 hmac_sha1 hmac_sha256 hmac_sha512 md5 murmur3 sha1 "
    "sha256 sha512 spooky_hash_v2_32 spooky_hash_v2_64 to_base32 to_base64 to_base64url "
    "to_big_endian_32 to_big_endian_64 to_hex to_ieee754_32 to_ieee754_64 xxhash64 "
    # functions/url.html
    "url_decode url_encode url_extract_fragment url_extract_host url_extract_parameter "
    "url_extract_path url_extract_port url_extract_protocol url_extract_query "
    # functions/uuid.html, session.html, system.html
    "uuid current_user current_groups version "
    # functions/window.html
    "cume_dist dense_rank first_value lag last_value lead nth_value ntile percent_rank rank row_number "
    # functions/hyperloglog.html, qdigest.html, tdigest.html, setdigest.html
    "empty_approx_set value_at_quantile values_at_quantiles "
    "make_set_digest merge_set_digest intersection_cardinality jaccard_index hash_counts "
    # functions/color.html, functions/ml.html, functions/ipaddress.html
    "bar color render rgb classify features learn_classifier learn_libsvm_classifier "
    "learn_libsvm_regressor learn_regressor regress "
    # functions/geospatial.html (the non ST_ part; ST_ names below)
    "bing_tile bing_tile_at bing_tile_coordinates bing_tile_polygon bing_tile_quadkey "
    "bing_tile_zoom_level bing_tiles_around convex_hull_agg from_encoded_polyline "
    "from_geojson_geometry geometry_from_hadoop_shape geometry_invalid_reason geometry_nearest_points "
    "geometry_to_bing_tiles geometry_union geometry_union_agg great_circle_distance "
    "line_interpolate_point line_interpolate_points line_locate_point simplify_geometry "
    "spatial_partitioning spatial_partitions to_encoded_polyline to_geojson_geometry to_geometry "
    "to_spherical_geography geometry_collect_agg "
    # functions/list.html: row pattern recognition, sets of rows
    "classifier first last match_number next prev permute "
    # language/types.html: the ROW constructor and grouping() of GROUP BY sets
    "row grouping "
        # the rest of functions/list.html: functions of plugins and connectors Sigma may lack
        "collect element ends_with format_number fusion intersection json json_serialize objectid "
        "objectid_timestamp set theta_sketch_cardinality theta_sketch_union timestamp_objectid "
        "evaluate_classifier_predictions"
    )
) | frozenset(
    f"st_{name}" for name in names(
        "area asbinary asewkb asewkt astext boundary buffer centroid collect contains convexhull "
        "coorddim crosses difference dimension disjoint distance endpoint envelope envelopeaspts "
        "equals exteriorring force2d force3d geometries geometryfromtext geometryn geometrytype "
        "geomfrombinary geomfromewkt geomfromkml interiorringn interiorrings intersection intersects "
        "isclosed isempty isring issimple isvalid length linefromtext linemerge linestring makeline "
        "makepolygon minimumboundingcircle multi multipoint normalize numgeometries numinteriorring "
        "numpoints orientedenvelope overlaps point pointn pointonsurface points polygon polygonize "
        "relate reduceprecision setsrid srid startpoint symdifference touches transform union "
        "voronoipolygons within x xmax xmin y ymax ymin z"
    )
)
# fmt: on

# Stripe's own Sigma functions, by name, with the Trino type each returns (None: not known, so
# checks that depend on it pass). Whoever implements one in the emulator adds its name here; it
# must exist in DuckDB under the same name, callable unqualified on a run's cursor (a macro in the
# `main` schema, created beside the Sigma views). The amount helpers of Stripe's query templates
# (docs.stripe.com/stripe-data/query-billing-data):
STRIPE_SIGMA_FUNCTIONS: dict[str, str | None] = {
    "decimalize_amount": "double",
    "decimalize_amount_no_display": "double",
    "stringify_amount": "varchar",
}


def is_registered(name: str) -> bool:
    """Whether Sigma knows a function of this (case-insensitive) name."""
    lowered = name.lower()
    return lowered in TRINO_FUNCTIONS or lowered in STRIPE_SIGMA_FUNCTIONS
