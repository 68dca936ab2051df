// Prometheus text format 0.0.4 tests. The escaped lines are the examples of
// the exposition format documentation. The Python prometheus_client parser,
// an independent implementation, also reads the whole output back.
import Foundation
import Testing
@testable import WebUI

@Suite struct PrometheusWriterTests {
    private func sampleWriter() -> PrometheusWriter {
        var writer = PrometheusWriter()
        writer.family("http_requests_total", type: .counter, help: "The total number of HTTP requests.")
        writer.sample("http_requests_total", labels: [("method", "post"), ("code", "200")], value: 1027)
        writer.sample("http_requests_total", labels: [("method", "post"), ("code", "400")], value: 3)
        writer.family("msdos_file_access_time_seconds", type: .gauge, help: "Help with \\ and\nnew line.")
        writer.sample("msdos_file_access_time_seconds",
                      labels: [("path", "C:\\DIR\\FILE.TXT"), ("error", "Cannot find file:\n\"FILE.TXT\"")],
                      value: 1.458255915e9)
        writer.family("special_values", type: .gauge, help: "NaN and infinities.")
        writer.sample("special_values", labels: [("kind", "nan")], value: Double.nan)
        writer.sample("special_values", labels: [("kind", "pinf")], value: Double.infinity)
        writer.sample("special_values", labels: [("kind", "ninf")], value: -Double.infinity)
        writer.sample("special_values", labels: [("kind", "fraction")], value: 0.25)
        writer.histogram("http_request_duration_seconds", help: "A histogram of the request duration.",
                         buckets: [(0.05, 24054), (0.1, 33444), (0.2, 100392), (0.5, 129389), (1, 133988)],
                         sum: 53423, count: 144320)
        return writer
    }

    @Test func documentedLines() {
        let text = sampleWriter().text
        #expect(text.hasPrefix("# HELP http_requests_total The total number of HTTP requests.\n"
            + "# TYPE http_requests_total counter\n"
            + "http_requests_total{method=\"post\",code=\"200\"} 1027\n"
            + "http_requests_total{method=\"post\",code=\"400\"} 3\n"))
        #expect(text.contains("# HELP msdos_file_access_time_seconds Help with \\\\ and\\nnew line.\n"))
        #expect(text.contains(
            "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} "))
        #expect(text.contains("special_values{kind=\"nan\"} NaN\n"))
        #expect(text.contains("special_values{kind=\"pinf\"} +Inf\n"))
        #expect(text.contains("special_values{kind=\"ninf\"} -Inf\n"))
        #expect(text.contains("http_request_duration_seconds_bucket{le=\"0.05\"} 24054\n"))
        #expect(text.contains("http_request_duration_seconds_bucket{le=\"+Inf\"} 144320\n"))
        #expect(text.hasSuffix("http_request_duration_seconds_sum 53423\nhttp_request_duration_seconds_count 144320\n"))
    }

    @Test func namesAreSanitizedAndFamiliesWrittenOnce() {
        var writer = PrometheusWriter()
        writer.family("bad-name.total", type: .counter, help: "x")
        writer.family("bad-name.total", type: .counter, help: "x")
        writer.sample("bad-name.total", labels: [("a:b", "v"), ("1st", "w")], value: 1)
        #expect(writer.text == "# HELP bad_name_total x\n# TYPE bad_name_total counter\nbad_name_total{a_b=\"v\",_st=\"w\"} 1\n")
    }

    @Test func responseHasExpositionContentType() {
        let response = sampleWriter().response
        #expect(response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8")
    }

    @Test func pythonClientParsesOutput() throws {
        let python = try #require(findExecutable("python3"), "python3 is not installed")
        let script = """
            import sys
            from prometheus_client.parser import text_string_to_metric_families
            for family in text_string_to_metric_families(sys.stdin.read()):
                print("family|%s|%s|%r" % (family.name, family.type, family.documentation))
                for s in family.samples:
                    labels = ";".join("%s=%r" % kv for kv in sorted(s.labels.items()))
                    print("sample|%s|%s|%r" % (s.name, labels, float(s.value)))
            """
        let result = try runProcess(python, ["-c", script], input: sampleWriter().text)
        #expect(result.status == 0, "python3 failed: \(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        // prometheus_client reports counter families without "_total".
        #expect(lines.contains("family|http_requests|counter|'The total number of HTTP requests.'"))
        #expect(lines.contains("sample|http_requests_total|code='200';method='post'|1027.0"))
        #expect(lines.contains("family|msdos_file_access_time_seconds|gauge|'Help with \\\\ and\\nnew line.'"))
        #expect(lines.contains(
            "sample|msdos_file_access_time_seconds|error='Cannot find file:\\n\"FILE.TXT\"';path='C:\\\\DIR\\\\FILE.TXT'|1458255915.0"))
        #expect(lines.contains("sample|special_values|kind='nan'|nan"))
        #expect(lines.contains("sample|special_values|kind='pinf'|inf"))
        #expect(lines.contains("sample|special_values|kind='ninf'|-inf"))
        #expect(lines.contains("sample|special_values|kind='fraction'|0.25"))
        #expect(lines.contains("family|http_request_duration_seconds|histogram|'A histogram of the request duration.'"))
        #expect(lines.contains("sample|http_request_duration_seconds_bucket|le='+Inf'|144320.0"))
        #expect(lines.contains("sample|http_request_duration_seconds_count||144320.0"))
    }
}

@Suite struct JSONResponseTests {
    struct Status: Encodable {
        var name: String
        var uptimeSeconds: Int
        var path: String
        var note: String
    }

    @Test func encodesSortedRFC8259() throws {
        let response = try HTTPResponse.json(Status(name: "capnet", uptimeSeconds: 5, path: "/a/b",
                                                    note: "say \"hi\"\n"))
        #expect(response.headers["Content-Type"] == "application/json")
        // RFC 8259 §7: quotation mark and line feed are escaped.
        #expect(String(decoding: response.body, as: UTF8.self)
            == "{\"name\":\"capnet\",\"note\":\"say \\\"hi\\\"\\n\",\"path\":\"/a/b\",\"uptimeSeconds\":5}")
    }
}
